/** `driftline alerts`: the alert-consumer example reads DriftAlert events from the alerts topic. */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { buildAlerts } from '../../drift-aggregator/alerts.js';
import type { DriftAlert } from '../../schemas/types.js';
import { driftlineCli, testSetup } from './harness.js';

describe('driftline alerts', () => {
  it('prints the alerts of the topic, as JSON lines or readable text', async () => {
    const { core, env } = testSetup();
    const kafka = createKafka(core, 'cli-test');
    await ensureTopics(kafka, [core.topicAlerts], core);
    const alerts = buildAlerts({ modelName: 'cli-model', modelVersion: 3, start: 1_700_000_040_000 }, 60_000, [
      { segment: '__all__', feature: 'feature.text_chars', metric: 'psi', value: 0.61, pValue: null, thresholdAmber: 0.1, thresholdRed: 0.25, status: 'red' },
      { segment: 'Books', feature: 'rating', metric: 'chi_square', value: 0.15, pValue: 1e-6, thresholdAmber: 0.1, thresholdRed: 0.2, status: 'amber' },
    ], 1_700_000_100_000);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: core.topicAlerts, messages: alerts.map((alert) => ({ key: alert.model_name, value: codecFor('DriftAlert').encode(alert) })) });
    await producer.disconnect();

    const cliEnv = { ...process.env, ...env };
    const json = await driftlineCli(['alerts', '--json', '--max', '2'], cliEnv);
    const printed = json.trim().split('\n').map((line) => JSON.parse(line) as DriftAlert);
    expect(printed.map((a) => [a.segment, a.status])).toEqual([[null, 'red'], ['Books', 'amber']]);
    const text = await driftlineCli(['alerts', '--max', '2'], cliEnv);
    expect(text).toContain('RED cli-model v3 window 2023-11-14T22:14:00.000Z segment all (1 items)');
    expect(text).toContain('red   feature.text_chars psi=0.6100 (amber 0.1, red 0.25)');
    rmSync(core.clickhousePath, { recursive: true, force: true });
  });
});
