/** Environment variables of `driftline ingest` (the CLI flags override them). */
import { defineSettings, setting, type Settings } from '../core/config.js';

export const ingestSettings = defineSettings('ingest', {
  batchSize: setting({ env: 'DRIFTLINE_INGEST_BATCH_SIZE', kind: 'int', default: 500, min: 1, max: 100_000, description: 'Records per Kafka produce request (reviews and dead letters together).' }),
  rate: setting({ env: 'DRIFTLINE_INGEST_RATE', kind: 'number', default: 0, min: 0, description: 'Rate limit in records/s; 0 = as fast as the broker takes them.' }),
  futureToleranceMs: setting({ env: 'DRIFTLINE_INGEST_FUTURE_TOLERANCE_MS', kind: 'int', default: 86_400_000, min: 0, description: 'How far in the future a review timestamp may lie before TIMESTAMP_INVALID.' }),
  outageTimeoutMs: setting({ env: 'DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS', kind: 'int', default: 60_000, min: 0, description: 'How long one batch may go unacknowledged for a retriable Kafka failure (broker restart, leader moving) while ingest resends it with back-off; then the run fails with KAFKA_UNAVAILABLE. 0 = fail at the first failed send.' }),
  progressIntervalMs: setting({ env: 'DRIFTLINE_INGEST_PROGRESS_MS', kind: 'int', default: 2_000, min: 100, description: 'Interval of the progress line on stderr.' }),
  maxLineBytes: setting({ env: 'DRIFTLINE_INGEST_MAX_LINE_BYTES', kind: 'int', default: 4 * 1024 * 1024, min: 1024, description: 'Longest input line read; longer ones are dead-lettered as RECORD_UNPARSEABLE (cut) instead of buffered.' }),
  maxRawBytes: setting({ env: 'DRIFTLINE_INGEST_DEAD_LETTER_RAW_BYTES', kind: 'int', default: 64 * 1024, min: 256, max: 512 * 1024, description: 'Bytes of the original line kept in a dead-letter record (Kafka messages are limited to ~1 MB).' }),
  dedupeIds: setting({
    env: 'DRIFTLINE_INGEST_DEDUPE_IDS',
    kind: 'int',
    default: 500_000,
    min: 1,
    description:
      'Review ids one run remembers for DUPLICATE_REVIEW (the most recent distinct ones, ~100 bytes each): a repeat within them is dead-lettered, a repeat from further back in a longer stream is published again.',
  }),
});

export type IngestSettings = Settings<typeof ingestSettings.spec>;
