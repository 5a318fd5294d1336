/**
 * Detection on real reviews with the shipped model (models/default, scored in-process with the
 * runtime): a stream of one category unlike the training mix (Blitzer books only, ~4% of training)
 * is red in its first full window; held-out reviews from the training mix stay free of input drift
 * for 10 windows.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import type { ReferenceBaseline } from '../../core/drift/baseline.js';
import { createKafka, ensureTopics } from '../../core/kafka.js';
import { loadModelRuntime } from '../../core/model/runtime.js';
import type { ModelRuntime } from '../../core/model/types.js';
import { repoPath, SHIPPED_REVIEWS } from '../../core/paths.js';
import { InMemoryBaselineProvider } from '../../drift-aggregator/baselines.js';
import { AggregatorService } from '../../drift-aggregator/service.js';
import type { ScoredReview } from '../../schemas/types.js';
import { scoredEventsOf } from '../../fixtures/scored-events.js';
import { loadLabeledJsonl, splitByReviewId, type LabeledReview } from '../../trainer/data.js';
import { HOLDOUT_SALT } from '../../trainer/pipeline.js';
import { seededRandom } from './fixtures.js';
import { publishScored, testSetup, waitFor, releaseTestAggregator, testAggregator } from './harness.js';

const PER_WINDOW = 300;
const LOOKALIKE_WINDOWS = 10;
const setup = testSetup();
const { core, settings } = setup;
const kafka = createKafka(core, 'real-test');
const redis = new Redis(core.redisUrl);
let clickhouse: ClickHouseClient;
let runtime: ModelRuntime;
let service: AggregatorService;
const firstWindow = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

async function score(rows: readonly LabeledReview[], modelName: string): Promise<ScoredReview[]> {
  const events = await scoredEventsOf(runtime, rows, (index) => firstWindow + Math.floor(index / PER_WINDOW) * 60_000 + (index % PER_WINDOW) * 10);
  return events.map((event) => ({ ...event, model_name: modelName }));
}

function shuffled<T>(rows: readonly T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...rows];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

beforeAll(async () => {
  runtime = await loadModelRuntime(repoPath('models', 'default'), { name: 'reviews', version: 1 });
  const baseline = JSON.parse(readFileSync(repoPath('models', 'default', 'baseline.json'), 'utf8')) as ReferenceBaseline;
  const as = (modelName: string): ReferenceBaseline => ({ ...baseline, modelName, modelVersion: 1 });
  clickhouse = await createClickHouse(core);
  await ensureTopics(kafka, [core.topicScored, core.topicAlerts], core);
  service = testAggregator('real-test', {
    core,
    settings,
    kafka,
    redis,
    clickhouse,
    baselines: new InMemoryBaselineProvider([as('books-only'), as('lookalike')]),
  });
  await service.start();
});

afterAll(async () => {
  runtime?.dispose();
  await releaseTestAggregator({ core, service, clickhouse, redis });
});

interface Row {
  model_name: string;
  start: string;
  feature: string;
  metric: string;
  value: number;
  p_value: number | null;
  raw_status: string;
  status: string;
}

describe('drift on real reviews with the shipped model', () => {
  it('turns a books-only stream red in its first window and keeps held-out lookalike reviews free of input drift', async () => {
    const { rows } = await loadLabeledJsonl([repoPath(SHIPPED_REVIEWS)]);
    const { held } = splitByReviewId(rows, 0.2, HOLDOUT_SALT);
    const books = shuffled(rows.filter((r) => r.source === 'blitzer2007-mds/books'), 1).slice(0, 2 * PER_WINDOW);
    const lookalike = shuffled(held, 2).slice(0, LOOKALIKE_WINDOWS * PER_WINDOW);
    const scored = [...(await score(books, 'books-only')), ...(await score(lookalike, 'lookalike'))];
    await publishScored(kafka, core.topicScored, scored.sort((a, b) => a.ingest_time_ms - b.ingest_time_ms));
    await waitFor(async () => (await service.metrics.windowsClosed.get()).values[0]?.value === 2 + LOOKALIKE_WINDOWS, 120_000, 'all windows to close');
    await waitFor(async () => (await service.writer.pendingCount()) === 0, 60_000, 'rows to be written');

    const result = await clickhouse.query({
      query: `SELECT model_name, toString(toUnixTimestamp64Milli(window_start)) AS start, feature, metric, value, p_value, raw_status, status
              FROM ${core.clickhouseDatabase}.drift_metrics FINAL WHERE segment = '__all__' ORDER BY model_name, start, feature, metric`,
      format: 'JSONEachRow',
    });
    const all = (await result.json()) as Row[];
    const books1 = all.filter((r) => r.model_name === 'books-only' && Number(r.start) === firstWindow);
    expect(books1.filter((r) => r.raw_status === 'red').map((r) => r.feature)).toContain('category');
    // Embedding drift: the model's own representation of book reviews is far from the reference's.
    const embedding = books1.find((r) => r.metric === 'embedding_mmd');
    expect(embedding?.feature).toBe('__embedding__');
    expect(embedding?.raw_status).toBe('red');
    expect(embedding?.p_value).toBeLessThan(1e-6);
    const booksLater = all.filter((r) => r.model_name === 'books-only' && Number(r.start) > firstWindow);
    expect(booksLater.some((r) => r.status === 'red')).toBe(true);

    // Input drift only: the baseline's reference quality is training-set quality, so live macro-F1 on
    // held-out data is judged separately (see the report); every monitored input must stay green.
    const lookalikeInputs = all.filter((r) => r.model_name === 'lookalike' && r.feature !== '__model__');
    expect(new Set(lookalikeInputs.map((r) => r.start)).size).toBe(LOOKALIKE_WINDOWS);
    expect(lookalikeInputs.filter((r) => r.metric === 'embedding_mmd')).toHaveLength(LOOKALIKE_WINDOWS);
    expect(lookalikeInputs.filter((r) => r.status !== 'green').map((r) => `${r.start} ${r.feature} ${r.metric}=${r.value.toFixed(3)} ${r.status}`)).toEqual([]);
  });
});
