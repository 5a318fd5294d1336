/**
 * The scorer's hot path, one kafkajs batch at a time: skip what a fenced owner already committed, cut the
 * rest into chunks, score each chunk with one model version and commit it in one Kafka transaction
 * (scored events + dead letters + a staging candidate's shadow events + the consumer offset), resolve its offset, and on a failure abort,
 * drop the partition's producer and pause the partition for a growing back-off so the batch is redelivered.
 *
 * It needs only the small interfaces below (kafkajs's EachBatchPayload, Transaction and scorer/producers.ts
 * satisfy them), so it is read and tested without a broker; scorer/scorer.ts wires it to the consumer.
 */
import { performance } from 'node:perf_hooks';
import type { Batch, KafkaMessage, Message, Transaction } from 'kafkajs';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ModelRuntime, ModelService } from '../core/model/types.js';
import { backoffDelayMs } from '../core/retry.js';
import { extractTraceContext, SpanKind, withSpan } from '../core/tracing.js';
import type { ScoredIds } from './dedupe.js';
import type { ScorerMetrics } from './metrics.js';
import { processBatch, scoreShadow, splitBySize, type BatchResult, type BatchSource } from './pipeline.js';
import type { ShadowSource } from './shadow.js';

/** The part of kafkajs's eachBatch payload the handler uses. */
export interface BatchPayload {
  batch: Pick<Batch, 'topic' | 'partition' | 'messages' | 'firstOffset' | 'lastOffset'>;
  isRunning(): boolean;
  isStale(): boolean;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** Pauses the batch's partition; the returned function resumes it. */
  pause(): () => void;
}

/** The part of a kafkajs transaction the handler uses. */
export type ScorerTransaction = Pick<Transaction, 'send' | 'sendOffsets' | 'commit' | 'abort'>;

/** A partition's transactional producer while one batch holds it (scorer/producers.ts PartitionProducer). */
export interface TransactionLease {
  readonly partition: number;
  readonly producer: { transaction(): Promise<ScorerTransaction> };
  /** True until the first transaction after (re)creation has checked the group's committed offset. */
  needsOffsetCheck: boolean;
  /**
   * The committed offset read for that check ahead of the first batch (prepareOwner, on assignment, after the
   * fence and while holding the lease); the first batch filters with it instead of reading it then.
   */
  checkedOffset?: { committed: bigint | null };
}

/** Hands out one lease per partition at a time (scorer/producers.ts PartitionProducers). */
export interface LeasePool<L extends TransactionLease> {
  acquire(partition: number): Promise<L>;
  release(lease: L): void;
  /** Closes a lease whose transaction failed; the next acquire creates (and fences with) a new producer. */
  discard(lease: L): Promise<void>;
}

export interface BatchHandlerSettings {
  groupId: string;
  scoredTopic: string;
  deadLetterTopic: string;
  maxRecordsPerTransaction: number;
  /** Stamp scored events with the constant content-type / schema headers (DRIFTLINE_SCORER_SCHEMA_HEADERS). */
  schemaHeaders?: boolean;
  /** First pause of a failed partition; doubled per consecutive failure up to maxBackoffMs. */
  retryBackoffMs: number;
  maxBackoffMs: number;
  /** Topic of the shadow candidate's events (scorer/shadow.ts); only used when deps.shadow is given. */
  shadowTopic?: string;
  /** Longest shadow scoring of one chunk; past it the chunk is committed without shadow events. */
  shadowTimeoutMs?: number;
  /**
   * Score and commit each partition batch behind the next fetch (DRIFTLINE_SCORER_OVERLAP_FETCH): eachBatch
   * returns as soon as the batch is handed to the pipeline, with the fetch position past it, so kafkajs fetches
   * the next batches while the model worker scores these (see `runBehind`). Needs `seek` in the deps. Off:
   * eachBatch returns once the batch is committed, and the next fetch waits for it.
   */
  overlapFetch?: boolean;
  /**
   * Only a batch of at least this many bytes (keys + values) goes behind the fetch; absent: every batch. The
   * scorer passes half its fetch size: a batch that fills its fetch means a backlog, where overlapping the next
   * fetch pays. Below capacity batches are small, and committing them before the next fetch lets the records
   * that arrive meanwhile gather into one next batch, where behind the fetch they would be cut into more,
   * smaller transactions, each one more commit to wait for.
   */
  overlapMinBytes?: number;
}

/** A chunk whose scoring has started (on the model worker), with the model version it is scored with. */
interface PreparedChunk {
  chunk: KafkaMessage[];
  runtime: ModelRuntime;
  result: Promise<BatchResult>;
}

/** A staging candidate's events for one transaction. */
interface ShadowOutput {
  version: number;
  messages: Message[];
}

const DEFAULT_SHADOW_TIMEOUT_MS = 5_000;

export interface BatchHandlerDeps<L extends TransactionLease> {
  settings: BatchHandlerSettings;
  producers: LeasePool<L>;
  /** The group's committed offset of a partition of the input topic (null: none yet). */
  committedOffset(partition: number): Promise<bigint | null>;
  /** True when the scored topic has the input's partition count: each scored event keeps its input's partition. */
  coPartitioned(): boolean;
  models: Pick<ModelService, 'current'>;
  metrics: ScorerMetrics;
  log: Logger;
  /** End-to-end dedupe by review_id (absent: every valid record is scored). */
  dedupe?: Pick<ScoredIds, 'scoredBefore' | 'remember'>;
  /** Shadow scoring (DRIFTLINE_SHADOW=staging); absent: none, at no cost. */
  shadow?: ShadowSource;
  /** Moves a partition's fetch position (kafkajs consumer.seek); needed by settings.overlapFetch. */
  seek?(topic: string, partition: number, offset: string): void;
}

export class BatchHandler<L extends TransactionLease> {
  /** Consecutive failed attempts per partition: how long its next pause is. */
  private readonly failures = new Map<number, number>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /**
   * Per partition: its batch being scored and committed behind the fetch (settings.overlapFetch); resolves
   * true once all of it committed, false when a transaction failed and the partition was rewound. Never rejects.
   */
  private readonly behind = new Map<number, Promise<boolean>>();
  /**
   * Per partition: the first offset of a transaction that failed behind the fetch, until that offset is fetched
   * again. A batch of the partition that starts after it was fetched before the rewind: it is dropped unscored.
   */
  private readonly rewoundTo = new Map<number, bigint>();
  /** Set by stop (drain): from then on every batch commits inside eachBatch, so none is left behind. */
  private stopping = false;

  constructor(private readonly deps: BatchHandlerDeps<L>) {}

  /** kafkajs's eachBatch: scores and commits the batch chunk by chunk; never throws except to report a rebalance. */
  readonly eachBatch = async (payload: BatchPayload): Promise<void> => {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
    // The partition's previous batch may still be committing behind the fetch: this one commits after it.
    const previous = this.behind.get(batch.partition);
    if (previous !== undefined) {
      if (!(await previous)) return; // it failed and rewound: this batch is fetched again
      // Fetched while the previous one was behind and not itself a backlog: left unresolved, it is fetched again
      // now together with what arrived meanwhile, one transaction where it would have been two in a row.
      if (!this.goesBehind(batch.messages)) return;
    }
    if (!payload.isRunning() || payload.isStale() || this.fetchedBeforeRewind(batch)) return;
    const { settings, producers, metrics, log } = this.deps;
    const source: BatchSource = { topic: batch.topic, partition: batch.partition };
    metrics.consumed.inc(batch.messages.length);
    log.debug({ partition: batch.partition, first: batch.firstOffset(), last: batch.lastOffset(), records: batch.messages.length }, 'batch received');
    let lease: L | undefined;
    let rejoin: unknown;
    try {
      lease = await producers.acquire(batch.partition);
      const { messages, committed } = await this.unprocessed(lease, batch);
      if (messages.length === 0) {
        // A fenced owner committed past this whole batch: move the fetch position to its offset.
        if (committed !== null) payload.resolveOffset((committed - 1n).toString());
        return;
      }
      if (this.goesBehind(messages)) {
        this.runBehind(payload, lease, source, messages);
        lease = undefined; // runBehind releases it
        payload.resolveOffset(lastOffsetOf(messages));
      } else {
        rejoin = await this.scoreAndCommit(payload, lease, source, messages, null);
      }
    } catch (err) {
      if (lease) await producers.discard(lease);
      lease = undefined;
      this.backOff(payload, err);
    } finally {
      if (lease) producers.release(lease);
    }
    // Outside the try: a heartbeat error is how kafkajs learns of a rebalance and must reach it.
    if (rejoin !== undefined) throw rejoin;
    await payload.heartbeat();
  };

  /** Whether a batch is scored behind the fetch: overlap on, not stopping, and a backlog's worth of bytes. */
  private goesBehind(messages: readonly KafkaMessage[]): boolean {
    const { settings } = this.deps;
    return settings.overlapFetch === true && !this.stopping && bytesOf(messages) >= (settings.overlapMinBytes ?? 0);
  }

  /**
   * One batch's records, cut into chunks of at most maxRecordsPerTransaction, each committed in its own
   * transaction. Pipelined: the next chunk is decoded and scored on the model worker while this one commits;
   * only compute runs ahead, transactions, offsets and dedupe marks stay strictly in order. Inside eachBatch
   * (`behind` null) it resolves each chunk's offset after its commit, stops when the consumer stops or seeks,
   * and heartbeats between chunks, returning the heartbeat's error (a rebalance) for eachBatch to throw. Behind
   * the fetch it runs to the end and keeps `behind.from` at the first offset not yet committed. Throws when a
   * transaction fails.
   */
  private async scoreAndCommit(payload: BatchPayload, lease: L, source: BatchSource, messages: KafkaMessage[], behind: { from: string } | null): Promise<unknown> {
    const { settings, log } = this.deps;
    const step = settings.maxRecordsPerTransaction;
    let next: PreparedChunk | undefined = this.prepare(source, messages.slice(0, step), null);
    for (let start = 0; start < messages.length; start += step) {
      const current: PreparedChunk = next!;
      next = undefined;
      if (behind === null && (!payload.isRunning() || payload.isStale())) {
        current.result.catch(() => undefined);
        return undefined; // shutting down or seeked: the rest is redelivered
      }
      const result = await current.result;
      if (start + step < messages.length) {
        // Ids this chunk scores are not in Redis until it commits: the next chunk skips them here.
        next = this.prepare(source, messages.slice(start + step, start + 2 * step), new Set(result.scored.map((s) => s.reviewId)));
      }
      try {
        await this.commitChunk(lease, source, current, result);
      } catch (err) {
        next?.result.catch(() => undefined);
        throw err;
      }
      const last = lastOffsetOf(current.chunk);
      log.debug({ partition: source.partition, last, records: current.chunk.length }, 'transaction committed');
      this.failures.delete(source.partition);
      if (behind !== null) {
        if (next) behind.from = next.chunk[0]!.offset;
        continue;
      }
      payload.resolveOffset(last);
      if (next) {
        // A rebalance shows up here: stop this batch (what is committed stays) and let kafkajs rejoin.
        try {
          await payload.heartbeat();
        } catch (err) {
          next.result.catch(() => undefined);
          return err;
        }
      }
    }
    return undefined;
  }

  /**
   * Scores and commits a batch after eachBatch has returned with the fetch position past it: kafkajs fetches
   * again only once every batch of its last fetch is handled, so without this the model worker would idle
   * through each last commit, the fetch round trip and its decoding. Exactly once still holds: the consumed
   * offsets commit inside the transactions, never from the fetch position; the partition's next batch starts
   * only after this one committed; and when a transaction fails, the fetch position moves back to its first
   * offset (after the usual pause), and what was fetched of the partition meanwhile is dropped unscored.
   */
  private runBehind(payload: BatchPayload, lease: L, source: BatchSource, messages: KafkaMessage[]): void {
    const { producers } = this.deps;
    const partition = source.partition;
    const progress = { from: messages[0]!.offset };
    const done = this.scoreAndCommit(payload, lease, source, messages, progress)
      .then(
        () => {
          producers.release(lease);
          return true;
        },
        async (err: unknown) => {
          await producers.discard(lease);
          this.rewind(source, progress.from);
          this.backOff(payload, err);
          return false;
        },
      )
      .catch(() => false);
    this.behind.set(partition, done);
    void done.then(() => {
      if (this.behind.get(partition) === done) this.behind.delete(partition);
    });
  }

  /** Moves a partition's fetch position back to `offset` after a transaction behind the fetch failed. */
  private rewind(source: BatchSource, offset: string): void {
    this.rewoundTo.set(source.partition, BigInt(offset));
    try {
      this.deps.seek?.(source.topic, source.partition, offset);
    } catch (err) {
      // The consumer is stopping or lost the partition: its next owner starts from the committed offset anyway.
      this.deps.log.warn({ partition: source.partition, offset, err: toDriftlineError(err).message }, 'could not move the fetch position back');
    }
  }

  /**
   * True for a batch fetched before its partition was rewound: it starts past the rewound offset (the batch
   * fetched from there again starts at it, as kafkajs returns records from the fetch offset on).
   */
  private fetchedBeforeRewind(batch: BatchPayload['batch']): boolean {
    const rewound = this.rewoundTo.get(batch.partition);
    if (rewound === undefined) return false;
    if (BigInt(batch.firstOffset() ?? '0') > rewound) return true;
    this.rewoundTo.delete(batch.partition);
    return false;
  }

  /**
   * On stop, before the consumer leaves its group: no batch goes behind the fetch from now on, and this
   * resolves once those already behind have committed (or failed), so the producers can close after it.
   */
  async drain(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.behind.values());
  }

  /** Cancels the pending resumes of paused partitions (on stop: the consumer is leaving anyway). */
  cancelRetries(): void {
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
  }

  /**
   * On assignment (a new owner, or a kept partition after a rebalance): creates the partition's producer
   * (InitProducerId, the fence) and reads the committed offset its first batch must check, so that batch
   * does neither while its records wait. Holding the lease, so an in-flight batch of ours commits first;
   * after the fence no one else commits this partition's offsets, and our next commit goes through this
   * lease and uses the value. A failure leaves the check to the first batch.
   */
  async prepareOwner(partition: number): Promise<void> {
    const { producers } = this.deps;
    // The consumer starts an assigned partition from the committed offset: an older rewind no longer applies.
    this.rewoundTo.delete(partition);
    const lease = await producers.acquire(partition);
    try {
      if (!lease.needsOffsetCheck) return;
      const committed = await this.deps.committedOffset(partition);
      lease.checkedOffset = { committed };
      lease.needsOffsetCheck = false;
    } finally {
      producers.release(lease);
    }
  }

  /** Drops what a fenced previous owner already committed (only checked once per new producer). */
  private async unprocessed(lease: L, batch: BatchPayload['batch']): Promise<{ messages: KafkaMessage[]; committed: bigint | null }> {
    const checked = lease.checkedOffset;
    lease.checkedOffset = undefined;
    if (!lease.needsOffsetCheck && checked === undefined) return { messages: batch.messages, committed: null };
    // A check asked again since (a rebalance: retainOnly) reads afresh; otherwise the value read on assignment.
    const committed = lease.needsOffsetCheck ? await this.deps.committedOffset(batch.partition) : checked!.committed;
    lease.needsOffsetCheck = false;
    if (committed === null || BigInt(batch.firstOffset() ?? '0') >= committed) return { messages: batch.messages, committed };
    const messages = batch.messages.filter((m) => BigInt(m.offset) >= committed);
    this.deps.log.info({ partition: batch.partition, committed: committed.toString(), skipped: batch.messages.length - messages.length }, 'skipping records a previous owner already committed');
    return { messages, committed };
  }

  /** Starts scoring one chunk with one model version (every record of its transaction names this version). */
  private prepare(source: BatchSource, chunk: KafkaMessage[], committing: ReadonlySet<string> | null): PreparedChunk {
    const { dedupe, metrics } = this.deps;
    const runtime = this.deps.models.current();
    const started = performance.now();
    const scoredBefore = dedupe
      ? async (ids: readonly string[]): Promise<ReadonlySet<string>> => {
          const before = await dedupe.scoredBefore(ids);
          if (committing === null || committing.size === 0) return before;
          const both = new Set(before);
          for (const id of ids) if (committing.has(id)) both.add(id);
          return both;
        }
      : undefined;
    const result = processBatch(chunk, source, runtime, {
      ...(scoredBefore ? { scoredBefore } : {}),
      ...(this.deps.coPartitioned() ? { outputPartition: source.partition } : {}),
      schemaHeaders: this.deps.settings.schemaHeaders === true,
    }).then((done) => {
      metrics.scoringSeconds.observe((performance.now() - started) / 1000);
      return done;
    });
    return { chunk, runtime, result };
  }

  /** Commits one scored chunk in one transaction. */
  private async commitChunk(lease: L, source: BatchSource, prepared: PreparedChunk, result: BatchResult): Promise<void> {
    const { chunk, runtime } = prepared;
    // One span per transaction when tracing is on (DRIFTLINE_OTEL_ENABLED); a no-op otherwise.
    // Its parent is the first review's producer span (traceparent header), so ingest → scorer is one trace.
    await withSpan(
      'scorer.transaction',
      () => this.commitTraced(lease, source, chunk, result, runtime),
      { 'messaging.source.partition': source.partition, 'driftline.records': chunk.length, 'driftline.model_version': runtime.version },
      { parent: extractTraceContext(chunk[0]?.headers), kind: SpanKind.CONSUMER },
    );
  }

  private async commitTraced(lease: L, source: BatchSource, chunk: KafkaMessage[], result: BatchResult, runtime: ModelRuntime): Promise<void> {
    const { metrics, dedupe } = this.deps;
    const shadow = await this.shadowOf(source, chunk, result);
    const sending = performance.now();
    await this.commitTransaction(lease, source, result, BigInt(lastOffsetOf(chunk)) + 1n, shadow);
    metrics.transactionSeconds.observe((performance.now() - sending) / 1000);
    // Only after the commit: marking before it would drop an id whose transaction then aborted.
    await dedupe?.remember(result.scored.map((s) => s.reviewId));
    this.recordCommitted(result, runtime.version);
    if (shadow && shadow.messages.length > 0) {
      metrics.shadowScored.inc(metrics.versionSeries.note(metrics.shadowScored, shadow.version, { model_version: String(shadow.version) }), shadow.messages.length);
    }
  }

  /**
   * The shadow candidate's events for what production scored, or undefined (no candidate, or it failed or
   * took longer than its budget: logged and counted, and production commits without them).
   */
  private async shadowOf(source: BatchSource, chunk: KafkaMessage[], result: BatchResult): Promise<ShadowOutput | undefined> {
    const { shadow, settings, metrics, log } = this.deps;
    const runtime = shadow?.current();
    if (!runtime || settings.shadowTopic === undefined || result.scored.length === 0) return undefined;
    const started = performance.now();
    try {
      const messages = await withinMs(scoreShadow(chunk, source, result.scored, runtime), settings.shadowTimeoutMs ?? DEFAULT_SHADOW_TIMEOUT_MS, `shadow scoring with v${runtime.version}`);
      metrics.shadowScoringSeconds.observe((performance.now() - started) / 1000);
      return { version: runtime.version, messages };
    } catch (err) {
      metrics.shadowFailures.inc({ stage: 'score' });
      log.warn({ err: toDriftlineError(err).toJSON(), version: runtime.version, records: result.scored.length }, 'shadow scoring failed; the batch is committed without shadow events');
      return undefined;
    }
  }

  /** Scored events, dead letters and the consumed offset in one transaction: all of them or none. */
  private async commitTransaction(lease: L, source: BatchSource, result: BatchResult, nextOffset: bigint, shadow: ShadowOutput | undefined): Promise<void> {
    const { settings } = this.deps;
    const transaction = await lease.producer.transaction();
    try {
      const scored = new Array<Message>(result.scored.length);
      for (let i = 0; i < scored.length; i++) scored[i] = result.scored[i]!.message;
      for (const messages of splitBySize(scored)) await transaction.send({ topic: settings.scoredTopic, messages, acks: -1 });
      for (const messages of splitBySize(result.deadLetters.map((d) => d.message))) await transaction.send({ topic: settings.deadLetterTopic, messages, acks: -1 });
      // The candidate's events commit or abort with production's: a redelivered batch never doubles them.
      if (shadow && settings.shadowTopic !== undefined) {
        for (const messages of splitBySize(shadow.messages)) await transaction.send({ topic: settings.shadowTopic, messages, acks: -1 });
      }
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

  private recordCommitted(result: BatchResult, version: number): void {
    const { metrics, log } = this.deps;
    const now = Date.now();
    metrics.transactions.inc({ result: 'committed' });
    metrics.batchSize.observe(result.scored.length + result.deadLetters.length);
    if (result.duplicates > 0) metrics.duplicates.inc(result.duplicates);
    if (result.scored.length > 0) metrics.scored.inc(metrics.versionSeries.note(metrics.scored, version, { model_version: String(version) }), result.scored.length);
    if (result.withReplacementChar > 0) metrics.replacementChar.inc(result.withReplacementChar);
    for (const dead of result.deadLetters) metrics.deadLettered.inc({ error_code: dead.errorCode });
    for (const { ingestTimeMs } of result.scored) metrics.endToEndSeconds.observe(Math.max(0, now - ingestTimeMs) / 1000);
    if (result.isolatedRecords > 0) log.warn({ isolated: result.isolatedRecords }, 'batch scoring failed; records were scored one by one');
  }

  /** Pauses a failed partition for a growing back-off; its unresolved records are fetched again afterwards. */
  private backOff(payload: BatchPayload, err: unknown): void {
    const { settings, metrics, log } = this.deps;
    const partition = payload.batch.partition;
    const attempt = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, attempt);
    const delayMs = backoffDelayMs(attempt, { initialDelayMs: settings.retryBackoffMs, maxDelayMs: settings.maxBackoffMs });
    metrics.transactions.inc({ result: 'aborted' });
    log.error({ partition, attempt, delayMs, err: toDriftlineError(err).toJSON() }, 'transaction failed; batch aborted and will be redelivered');
    const resume = payload.pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, delayMs);
    timer.unref();
    this.resumeTimers.add(timer);
  }
}

/** Bytes of a batch's keys and values. */
function bytesOf(messages: readonly KafkaMessage[]): number {
  let bytes = 0;
  for (const message of messages) bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0);
  return bytes;
}

/** The offset of a chunk's last message (chunks are never empty). */
function lastOffsetOf(chunk: readonly KafkaMessage[]): string {
  const last = chunk[chunk.length - 1];
  if (last === undefined) throw new DriftlineError('INTERNAL', 'a transaction chunk is empty');
  return last.offset;
}

/** `work`, or MODEL_SCORING_FAILED after `ms` (the work itself is not cancelled; its late outcome is ignored). */
async function withinMs<T>(work: Promise<T>, ms: number, doing: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DriftlineError('MODEL_SCORING_FAILED', `${doing} took longer than ${ms} ms`)), ms);
  });
  work.catch(() => undefined); // a rejection after the deadline is not unhandled
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
