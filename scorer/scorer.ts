/**
 * The streaming scorer: a kafkajs consumer group over the reviews topic whose every partition batch is
 * scored and written back in Kafka transactions (outputs + dead letters + consumed offsets, all or nothing).
 *
 * Exactly-once in effect:
 *  - autoCommit is off; offsets are only committed by `sendOffsets` inside the transaction that also holds the
 *    batch's ScoredReview and DeadLetter messages, and `resolveOffset` runs only after that commit.
 *  - a failed transaction is aborted, its producer dropped, and the batch redelivered (offsets stay unresolved).
 *  - one transactional producer per input partition; a new producer (after start, rebalance or failure) first
 *    fences every older owner of that partition, then re-reads the group's committed offset and skips what a
 *    fenced owner had already committed, so a batch fetched before the fence is never scored twice. The re-read
 *    uses require_stable (scorer/stable-offsets.ts): a fenced owner's just-committed offsets are applied by the
 *    group coordinator a moment after its transaction completes, and a plain fetch in that moment would
 *    answer the older offset.
 *  - readers use read_committed, so aborted attempts are invisible.
 */
import { performance } from 'node:perf_hooks';
import type { Admin, Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { toDriftlineError } from '../core/errors.js';
import { backoffDelayMs } from '../core/retry.js';
import type { Logger } from '../core/logger.js';
import type { ModelRuntime, ModelService } from '../core/model/types.js';
import { extractTraceContext, SpanKind, withSpan } from '../core/tracing.js';
import { transactionalIdFor, type ScorerSettings } from './config.js';
import type { ScorerMetrics } from './metrics.js';
import { processBatch, splitBySize, type BatchResult, type BatchSource } from './pipeline.js';
import type { ScoredIds } from './dedupe.js';
import { PartitionProducers, type PartitionProducer } from './producers.js';
import { createStableOffsetFetcher } from './stable-offsets.js';
import { warmUp } from './warmup.js';

export interface ScorerTopics {
  reviews: string;
  scored: string;
  deadLetter: string;
}

export interface ScorerDeps {
  kafka: Kafka;
  settings: ScorerSettings;
  topics: ScorerTopics;
  models: Pick<ModelService, 'current'>;
  metrics: ScorerMetrics;
  log: Logger;
  /** End-to-end dedupe by review_id (absent: every valid record is scored). */
  dedupe?: ScoredIds;
  /** Called when the consumer crashed and kafkajs will not restart it (the process should exit non-zero). */
  onFatal?: (err: Error) => void;
}

export interface Scorer {
  start(): Promise<void>;
  /** Finishes the in-flight transaction, then leaves the group and closes every producer. */
  stop(): Promise<void>;
  assignedPartitions(): number[];
  /** In the consumer group: joined, and not crashed, stopped or disconnected since (for /ready). */
  isJoined(): boolean;
}

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
  const failures = new Map<number, number>();
  const timers = new Set<NodeJS.Timeout>();
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
  const committedOffset = (partition: number): Promise<bigint | null> => stableOffsets.committed(partition);

  /** Drops what a fenced previous owner already committed (only checked once per new producer). */
  async function unprocessed(lease: PartitionProducer, batch: Batch): Promise<{ messages: KafkaMessage[]; committed: bigint | null }> {
    if (!lease.needsOffsetCheck) return { messages: batch.messages, committed: null };
    const committed = await committedOffset(batch.partition);
    lease.needsOffsetCheck = false;
    if (committed === null || BigInt(batch.firstOffset() ?? '0') >= committed) return { messages: batch.messages, committed };
    const messages = batch.messages.filter((m) => BigInt(m.offset) >= committed);
    log.info({ partition: batch.partition, committed: committed.toString(), skipped: batch.messages.length - messages.length }, 'skipping records a previous owner already committed');
    return { messages, committed };
  }

  async function commitTransaction(lease: PartitionProducer, source: BatchSource, result: BatchResult, nextOffset: bigint): Promise<void> {
    const transaction = await lease.producer.transaction();
    try {
      const scored = result.scored.map((s) => (coPartitioned ? { ...s.message, partition: source.partition } : s.message));
      for (const messages of splitBySize(scored)) await transaction.send({ topic: topics.scored, messages, acks: -1 });
      for (const messages of splitBySize(result.deadLetterMessages)) await transaction.send({ topic: topics.deadLetter, messages, acks: -1 });
      await transaction.sendOffsets({
        consumerGroupId: settings.groupId,
        topics: [{ topic: source.topic, partitions: [{ partition: source.partition, offset: nextOffset.toString() }] }],
      });
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Scores one chunk with one model version and commits it in one transaction. */
  async function scoreAndCommit(lease: PartitionProducer, source: BatchSource, chunk: KafkaMessage[]): Promise<void> {
    const runtime = models.current(); // captured once: every record of this transaction names this version
    // One span per transaction when tracing is on (DRIFTLINE_OTEL_ENABLED); a no-op otherwise.
    // Its parent is the first review's producer span (traceparent header), so ingest → scorer is one trace.
    await withSpan(
      'scorer.transaction',
      () => scoreAndCommitTraced(lease, source, chunk, runtime),
      { 'messaging.source.partition': source.partition, 'driftline.records': chunk.length, 'driftline.model_version': runtime.version },
      { parent: extractTraceContext(chunk[0]?.headers), kind: SpanKind.CONSUMER },
    );
  }

  async function scoreAndCommitTraced(lease: PartitionProducer, source: BatchSource, chunk: KafkaMessage[], runtime: ModelRuntime): Promise<void> {
    const started = performance.now();
    const dedupe = deps.dedupe;
    const result = await processBatch(chunk, source, runtime, Date.now, dedupe ? { scoredBefore: (ids) => dedupe.scoredBefore(ids) } : {});
    const scoredAt = performance.now();
    metrics.scoringSeconds.observe((scoredAt - started) / 1000);
    await commitTransaction(lease, source, result, BigInt(chunk[chunk.length - 1]!.offset) + 1n);
    metrics.transactionSeconds.observe((performance.now() - scoredAt) / 1000);
    // Only after the commit: marking before it would drop an id whose transaction then aborted.
    await dedupe?.remember(result.scored.map((s) => s.record.review_id));
    recordCommitted(result, runtime.version);
  }

  function recordCommitted(result: BatchResult, version: number): void {
    const now = Date.now();
    metrics.transactions.inc({ result: 'committed' });
    metrics.batchSize.observe(result.scored.length + result.deadLetters.length);
    if (result.duplicates > 0) metrics.duplicates.inc(result.duplicates);
    if (result.scored.length > 0) metrics.scored.inc(metrics.versionSeries.note(metrics.scored, version, { model_version: String(version) }), result.scored.length);
    if (result.withReplacementChar > 0) metrics.replacementChar.inc(result.withReplacementChar);
    for (const dead of result.deadLetters) metrics.deadLettered.inc({ error_code: dead.error_code });
    for (const { record } of result.scored) metrics.endToEndSeconds.observe(Math.max(0, now - record.ingest_time_ms) / 1000);
    if (result.isolatedRecords > 0) log.warn({ isolated: result.isolatedRecords }, 'batch scoring failed; records were scored one by one');
  }

  /** Pauses a failed partition for a growing back-off; its unresolved records are fetched again afterwards. */
  function backOff(payload: EachBatchPayload, err: unknown): void {
    const partition = payload.batch.partition;
    const attempt = (failures.get(partition) ?? 0) + 1;
    failures.set(partition, attempt);
    const delayMs = backoffDelayMs(attempt, { initialDelayMs: settings.retryBackoffMs, maxDelayMs: MAX_BACKOFF_MS });
    metrics.transactions.inc({ result: 'aborted' });
    log.error({ partition, attempt, delayMs, err: toDriftlineError(err).toJSON() }, 'transaction failed; batch aborted and will be redelivered');
    const resume = payload.pause();
    const timer = setTimeout(() => {
      timers.delete(timer);
      resume();
    }, delayMs);
    timer.unref();
    timers.add(timer);
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
    const source: BatchSource = { topic: batch.topic, partition: batch.partition };
    metrics.consumed.inc(batch.messages.length);
    log.debug({ partition: batch.partition, first: batch.firstOffset(), last: batch.lastOffset(), records: batch.messages.length }, 'batch received');
    let lease: PartitionProducer | undefined;
    let rejoin: unknown;
    try {
      lease = await producers.acquire(batch.partition);
      const { messages, committed } = await unprocessed(lease, batch);
      if (messages.length === 0) {
        // A fenced owner committed past this whole batch: move the fetch position to its offset.
        if (committed !== null) payload.resolveOffset((committed - 1n).toString());
        return;
      }
      for (let start = 0; start < messages.length; start += settings.maxRecordsPerTransaction) {
        if (!payload.isRunning() || payload.isStale()) return; // shutting down or seeked: the rest is redelivered
        const chunk = messages.slice(start, start + settings.maxRecordsPerTransaction);
        await scoreAndCommit(lease, source, chunk);
        payload.resolveOffset(chunk[chunk.length - 1]!.offset);
        log.debug({ partition: batch.partition, last: chunk[chunk.length - 1]!.offset, records: chunk.length }, 'transaction committed');
        failures.delete(batch.partition);
        if (start + settings.maxRecordsPerTransaction < messages.length) {
          // A rebalance shows up here: stop this batch (what is committed stays) and let kafkajs rejoin.
          try {
            await payload.heartbeat();
          } catch (err) {
            rejoin = err;
            break;
          }
        }
      }
    } catch (err) {
      if (lease) await producers.discard(lease);
      lease = undefined;
      backOff(payload, err);
    } finally {
      if (lease) producers.release(lease);
    }
    // Outside the try: a heartbeat error is how kafkajs learns of a rebalance and must reach it.
    if (rejoin !== undefined) throw rejoin;
    await payload.heartbeat();
  }

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
   * A new owner's producers are created (InitProducerId, which fences the old owner) as soon as the
   * partitions are assigned, not when their first batch is already waiting.
   */
  function prepareProducers(partitions: readonly number[]): void {
    for (const partition of partitions) {
      producers
        .acquire(partition)
        .then((lease) => producers.release(lease))
        .catch((err: unknown) => log.warn({ partition, err: toDriftlineError(err).message }, 'producer not ready yet; the first batch creates it'));
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
      const warmed = await warmUp(models.current());
      log.info({ reviews: warmed, ms: Math.round(performance.now() - warmStarted), coPartitioned }, 'hot path warmed; joining the consumer group');
      await consumer.connect();
      await consumer.subscribe({ topic: topics.reviews, fromBeginning: settings.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: settings.concurrency,
        eachBatch,
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
        for (const timer of timers) clearTimeout(timer);
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
