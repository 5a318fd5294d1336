/**
 * The streaming scorer: a kafkajs consumer group over the reviews topic whose every partition batch is
 * scored and written back in Kafka transactions (outputs + dead letters + consumed offsets, all or nothing).
 *
 * Exactly-once in effect:
 *  - autoCommit is off; offsets are only committed by `sendOffsets` inside the transaction that also holds the
 *    batch's ScoredReview and DeadLetter messages. `resolveOffset` only moves the consumer's fetch position:
 *    by default (DRIFTLINE_SCORER_OVERLAP_FETCH) past a backlog's batch (half a fetch or more) as soon as it is
 *    handed to the scoring pipeline, so the next fetch overlaps its scoring and commits; otherwise only after
 *    each commit.
 *  - a failed transaction is aborted, its producer dropped, and the batch redelivered: the partition's fetch
 *    position goes back to the failed transaction's first offset (or was never moved past it), and its records
 *    fetched in the meantime are dropped unscored. A partition's batches commit strictly one after another.
 *  - one transactional producer per input partition; a new producer (after start, rebalance or failure) first
 *    fences every older owner of that partition, then re-reads the group's committed offset and skips what a
 *    fenced owner had already committed, so a batch fetched before the fence is never scored twice. The re-read
 *    uses require_stable (scorer/stable-offsets.ts): a fenced owner's just-committed offsets are applied by the
 *    group coordinator a moment after its transaction completes, and a plain fetch in that moment would
 *    answer the older offset.
 *  - readers use read_committed, so aborted attempts are invisible.
 *
 * This file wires the consumer, the producers and the group's life cycle; one batch's path (skip, score,
 * commit, resolve, back off) is scorer/batch.ts.
 */
import { performance } from 'node:perf_hooks';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { toDriftlineError } from '../core/errors.js';
import { BatchHandler } from './batch.js';
import { transactionalIdFor } from './config.js';
import { PartitionProducers } from './producers.js';
import { createStableOffsetFetcher } from './stable-offsets.js';
import type { Scorer, ScorerDeps } from './types.js';
import { warmUp } from './warmup.js';

const MAX_BACKOFF_MS = 10_000;

export function createScorer(deps: ScorerDeps): Scorer {
  const { kafka, settings, topics, models, metrics, log } = deps;
  const consumer: Consumer = kafka.consumer({
    groupId: settings.groupId,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs,
    maxBytesPerPartition: settings.maxBytesPerPartition,
    maxBytes: Math.max(10_485_760, settings.maxBytesPerPartition * 4),
    minBytes: settings.fetchMinBytes,
    maxWaitTimeInMs: settings.fetchMaxWaitMs,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  const admin: Admin = kafka.admin();
  const producers = new PartitionProducers(
    kafka,
    { transactionalIdFor: (partition) => transactionalIdFor(settings, topics.reviews, partition), transactionTimeoutMs: settings.transactionTimeoutMs },
    log,
  );
  let assigned: number[] = [];
  let joined = false;
  let lagTimer: NodeJS.Timeout | undefined;
  let stopping: Promise<void> | undefined;
  /** Scored topic has the reviews topic's partition count: each scored event goes to its input's partition number (no partitioner hash). */
  let coPartitioned = false;

  /** Plain OffsetFetch (no require_stable): only for a broker without OffsetFetch v7. */
  async function plainCommittedOffset(partition: number): Promise<bigint | null> {
    const [entry] = await admin.fetchOffsets({ groupId: settings.groupId, topics: [topics.reviews] });
    const found = entry?.partitions.find((p) => p.partition === partition);
    if (!found || Number(found.offset) < 0) return null;
    return BigInt(found.offset);
  }
  const stableOffsets = createStableOffsetFetcher({ kafka, groupId: settings.groupId, topic: topics.reviews, log, fallback: plainCommittedOffset });
  const handler = new BatchHandler({
    settings: {
      groupId: settings.groupId,
      scoredTopic: topics.scored,
      deadLetterTopic: topics.deadLetter,
      maxRecordsPerTransaction: settings.maxRecordsPerTransaction,
      schemaHeaders: settings.schemaHeaders,
      retryBackoffMs: settings.retryBackoffMs,
      maxBackoffMs: MAX_BACKOFF_MS,
      overlapFetch: settings.overlapFetch,
      // A batch filling half its fetch or more: the partition has a backlog (see overlapMinBytes).
      overlapMinBytes: Math.floor(settings.maxBytesPerPartition / 2),
      ...(deps.shadow && topics.shadow !== undefined ? { shadowTopic: topics.shadow, shadowTimeoutMs: settings.shadowTimeoutMs } : {}),
    },
    producers,
    committedOffset: (partition) => stableOffsets.committed(partition),
    coPartitioned: () => coPartitioned,
    models,
    metrics,
    log,
    seek: (topic, partition, offset) => consumer.seek({ topic, partition, offset }),
    ...(deps.dedupe ? { dedupe: deps.dedupe } : {}),
    ...(deps.shadow ? { shadow: deps.shadow } : {}),
  });

  async function refreshLag(): Promise<void> {
    const [high, committed] = await Promise.all([admin.fetchTopicOffsets(topics.reviews), admin.fetchOffsets({ groupId: settings.groupId, topics: [topics.reviews] })]);
    const committedBy = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    for (const { partition, high: end, low } of high) {
      const position = committedBy.get(partition) ?? -1;
      metrics.consumerLag.set({ partition: String(partition) }, Math.max(0, Number(end) - (position >= 0 ? position : Number(low))));
    }
  }

  async function partitionCount(topic: string): Promise<number> {
    const { topics: [metadata] } = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata?.partitions.length ?? 0;
  }

  /**
   * A new owner's producers are created (InitProducerId, which fences the old owner) and the committed
   * offsets their first batches must check are read as soon as the partitions are assigned, not when their
   * first batch is already waiting.
   */
  function prepareProducers(partitions: readonly number[]): void {
    for (const partition of partitions) {
      handler.prepareOwner(partition).catch((err: unknown) => log.warn({ partition, err: toDriftlineError(err).message }, 'producer not ready yet; the first batch creates it'));
    }
  }

  return {
    async start() {
      const left = (): void => {
        joined = false;
      };
      consumer.on(consumer.events.STOP, left);
      consumer.on(consumer.events.DISCONNECT, left);
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        joined = true;
        assigned = [...(payload.memberAssignment[topics.reviews] ?? [])].sort((a, b) => a - b);
        producers.retainOnly(new Set(assigned));
        prepareProducers(assigned);
        metrics.assignedPartitions.set(assigned.length);
        log.info({ memberId: payload.memberId, partitions: assigned }, 'partitions assigned');
      });
      consumer.on(consumer.events.FETCH, ({ payload }) => log.trace({ durationMs: payload.duration }, 'fetch'));
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        joined = false;
        log.error({ err: payload.error.message, restart: payload.restart }, 'consumer crashed');
        if (!payload.restart) deps.onFatal?.(payload.error);
      });
      await admin.connect();
      coPartitioned = (await partitionCount(topics.reviews)) === (await partitionCount(topics.scored));
      // Warm before joining: partitions are only taken once the model and the hot path are warm (no start-up transient).
      const warmStarted = performance.now();
      const warmed = await warmUp(models.current(), deps.dedupe ? { dedupe: deps.dedupe } : {});
      log.info({ reviews: warmed, ms: Math.round(performance.now() - warmStarted), coPartitioned }, 'hot path warmed; joining the consumer group');
      // The committed-offset reader a new owner's first batch needs, connected now rather than on that batch.
      await stableOffsets.connect().catch((err: unknown) => log.warn({ err: toDriftlineError(err).message }, 'committed-offset reader not connected yet; the first batch connects it'));
      await consumer.connect();
      await consumer.subscribe({ topic: topics.reviews, fromBeginning: settings.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: settings.concurrency,
        eachBatch: handler.eachBatch,
      });
      if (settings.lagIntervalMs > 0) {
        lagTimer = setInterval(() => {
          refreshLag().catch((err: Error) => log.warn({ err: err.message }, 'consumer lag refresh failed'));
        }, settings.lagIntervalMs);
        lagTimer.unref();
      }
    },
    stop() {
      stopping ??= (async () => {
        if (lagTimer) clearInterval(lagTimer);
        // Batches scored behind the fetch commit before the group is left (the next owner need not fence them).
        await handler.drain();
        handler.cancelRetries();
        await consumer.disconnect(); // waits for the in-flight batch, which stops after its current transaction
        await producers.closeAll();
        await stableOffsets.close();
        await admin.disconnect();
        log.info('scorer stopped');
      })();
      return stopping;
    },
    assignedPartitions: () => [...assigned],
    isJoined: () => joined,
  };
}
