/** Infrastructure commands: `driftline services up|down|status` and `driftline topics`. */
import { spawnSync } from 'node:child_process';
import { coreSettings } from '../core/config.js';
import { createKafka, driftlineTopics, ensureTopics } from '../core/kafka.js';
import { repoPath } from '../core/paths.js';
import type { CliCommand } from '../core/cli.js';

const services: CliCommand = {
  name: 'services',
  summary: 'Start/stop/status of the local services',
  usage: 'usage: driftline services up|down|status|reset\n  Runs scripts/services.sh (Kafka KRaft from Maven jars, Redis, embedded ClickHouse).',
  async run(argv) {
    const result = spawnSync('bash', [repoPath('scripts', 'services.sh'), argv[0] ?? 'status'], { stdio: 'inherit' });
    return result.status ?? 1;
  },
};

const topics: CliCommand = {
  name: 'topics',
  summary: 'Create the Driftline topics',
  usage: 'usage: driftline topics\n  Creates reviews, scored, dead-letter, promotions and alerts topics with DRIFTLINE_TOPIC_PARTITIONS partitions.',
  async run() {
    const settings = coreSettings.load();
    const created = await ensureTopics(createKafka(settings, 'admin'), driftlineTopics(settings), settings);
    process.stdout.write(created.length ? `created: ${created.join(', ')}\n` : 'all topics exist\n');
    return 0;
  },
};

export const commands: CliCommand[] = [services, topics];
