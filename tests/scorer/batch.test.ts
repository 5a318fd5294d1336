/**
 * The scorer's per-batch handler without a broker: it is driven with in-test objects that implement the
 * small interfaces it asks for (a batch payload, a lease pool, transactions), which record every call into
 * one log, so the test reads the order of sends, offset commits, commits, resolves and heartbeats, and
 * the pause and resume of a partition whose transaction failed.
 */
import type { KafkaMessage, Message, ProducerRecord, RecordMetadata } from 'kafkajs';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { DriftlineError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { BatchHandler, type BatchPayload, type LeasePool, type ScorerTransaction, type TransactionLease } from '../../scorer/batch.js';
import { createScorerMetrics, type ScorerMetrics } from '../../scorer/metrics.js';
import type { ShadowSource } from '../../scorer/shadow.js';
import { encoded, review, TestRuntime } from './unit-helpers.js';

const PARTITION = 3;

function kafkaMessage(offset: number, value: Buffer): KafkaMessage {
  return { key: null, value, timestamp: '0', attributes: 0, offset: String(offset), headers: {} };
}

/** A transaction that logs each call and keeps what it was given to send; `failOn` makes that step throw. */
class LoggingTransaction implements ScorerTransaction {
  constructor(
    private readonly log: string[],
    private readonly sent: Message[],
    private readonly failOn?: 'commit',
  ) {}
  async send(record: ProducerRecord): Promise<RecordMetadata[]> {
    this.log.push(`send ${record.topic} ×${record.messages.length}`);
    this.sent.push(...record.messages);
    return [];
  }
  async sendOffsets(offsets: { consumerGroupId: string; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }): Promise<void> {
    const [topic] = offsets.topics;
    this.log.push(`sendOffsets ${offsets.consumerGroupId} ${topic?.topic}/${topic?.partitions[0]?.partition}@${topic?.partitions[0]?.offset}`);
  }
  async commit(): Promise<void> {
    if (this.failOn === 'commit') {
      this.log.push('commit failed');
      throw new DriftlineError('KAFKA_UNAVAILABLE', 'broker went away mid-commit');
    }
    this.log.push('commit');
  }
  async abort(): Promise<void> {
    this.log.push('abort');
  }
}

interface FakeLease extends TransactionLease {
  id: number;
}

/** Hands out leases whose transactions log into `log`; `failCommits` transactions fail on commit first. */
class FakePool implements LeasePool<FakeLease> {
  private nextId = 1;
  private transactions = 0;
  failCommits = 0;
  /** Numbers (from 1, in the order they were begun) of further transactions that fail on commit. */
  readonly failTransactions = new Set<number>();
  needsOffsetCheck = false;
  readonly sent: Message[] = [];
  constructor(private readonly log: string[]) {}
  async acquire(partition: number): Promise<FakeLease> {
    const id = this.nextId++;
    this.log.push(`acquire lease ${id}`);
    const pool = this;
    return {
      id,
      partition,
      needsOffsetCheck: this.needsOffsetCheck,
      producer: {
        async transaction() {
          pool.transactions += 1;
          const fail = pool.failCommits > 0 || pool.failTransactions.has(pool.transactions);
          if (pool.failCommits > 0) pool.failCommits -= 1;
          return new LoggingTransaction(pool.log, pool.sent, fail ? 'commit' : undefined);
        },
      },
    };
  }
  release(lease: FakeLease): void {
    this.log.push(`release lease ${lease.id}`);
  }
  async discard(lease: FakeLease): Promise<void> {
    this.log.push(`discard lease ${lease.id}`);
  }
}

function payloadOf(messages: KafkaMessage[], log: string[]): BatchPayload {
  return {
    batch: {
      topic: 'reviews',
      partition: PARTITION,
      messages,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => messages[messages.length - 1]?.offset ?? '-1',
    },
    isRunning: () => true,
    isStale: () => false,
    resolveOffset: (offset) => log.push(`resolve ${offset}`),
    heartbeat: async () => {
      log.push('heartbeat');
    },
    pause: () => {
      log.push('pause');
      return () => log.push('resume');
    },
  };
}

/** A dedupe that, like scorer/dedupe.ts, knows an id only once `remember` ran after its transaction committed. */
class RememberingDedupe {
  readonly remembered = new Set<string>();
  constructor(private readonly log: string[]) {}
  async scoredBefore(ids: readonly string[]): Promise<ReadonlySet<string>> {
    this.log.push(`scoredBefore ${ids.join(',')}`);
    return new Set(ids.filter((id) => this.remembered.has(id)));
  }
  async remember(ids: readonly string[]): Promise<void> {
    this.log.push(`remember ${ids.join(',')}`);
    for (const id of ids) this.remembered.add(id);
  }
}

function handlerFor(pool: FakePool, metrics: ScorerMetrics, committed: bigint | null = null, shadow?: ShadowSource, dedupe?: RememberingDedupe): BatchHandler<FakeLease> {
  return new BatchHandler({
    settings: { groupId: 'g', scoredTopic: 'scored', deadLetterTopic: 'dlq', maxRecordsPerTransaction: 2, retryBackoffMs: 100, maxBackoffMs: 1_000, shadowTopic: 'shadow', shadowTimeoutMs: 200 },
    producers: pool,
    committedOffset: async () => committed,
    coPartitioned: () => true,
    models: { current: () => new TestRuntime('m', 4) },
    metrics,
    log: createLogger('test-batch', 'silent'),
    ...(shadow ? { shadow } : {}),
    ...(dedupe ? { dedupe } : {}),
  });
}

/** A handler that scores and commits behind the fetch (DRIFTLINE_SCORER_OVERLAP_FETCH), logging its seeks. */
function overlappingHandler(pool: FakePool, metrics: ScorerMetrics, log: string[], overlapMinBytes = 0): BatchHandler<FakeLease> {
  return new BatchHandler({
    settings: { groupId: 'g', scoredTopic: 'scored', deadLetterTopic: 'dlq', maxRecordsPerTransaction: 2, retryBackoffMs: 100, maxBackoffMs: 1_000, overlapFetch: true, overlapMinBytes },
    producers: pool,
    committedOffset: async () => null,
    coPartitioned: () => true,
    models: { current: () => new TestRuntime('m', 4) },
    metrics,
    log: createLogger('test-batch', 'silent'),
    seek: (topic, partition, offset) => log.push(`seek ${topic}/${partition}@${offset}`),
  });
}

/** A candidate whose score() never settles (for the shadow time budget). */
class HangingRuntime extends TestRuntime {
  override score(): Promise<never> {
    return new Promise(() => undefined);
  }
}

const shadowCount = async (metrics: ScorerMetrics, stage: 'score' | 'load'): Promise<number> =>
  (await metrics.shadowFailures.get()).values.find((v) => v.labels['stage'] === stage)?.value ?? 0;

const counter = async (metrics: ScorerMetrics, result: 'committed' | 'aborted'): Promise<number> =>
  (await metrics.transactions.get()).values.find((v) => v.labels['result'] === result)?.value ?? 0;

describe('BatchHandler.eachBatch', () => {
  let log: string[];
  let metrics: ScorerMetrics;
  beforeEach(() => {
    log = [];
    metrics = createScorerMetrics(new Registry());
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('commits each chunk in its own transaction, in order, and resolves an offset only after its commit', async () => {
    const pool = new FakePool(log);
    const messages = [kafkaMessage(10, encoded(review('a'))), kafkaMessage(11, encoded(review('b'))), kafkaMessage(12, Buffer.from('not avro'))];
    await handlerFor(pool, metrics).eachBatch(payloadOf(messages, log));
    expect(log).toEqual([
      'acquire lease 1',
      'send scored ×2',
      'sendOffsets g reviews/3@12',
      'commit',
      'resolve 11',
      'heartbeat',
      'send dlq ×1',
      'sendOffsets g reviews/3@13',
      'commit',
      'resolve 12',
      'release lease 1',
      'heartbeat',
    ]);
    expect(await counter(metrics, 'committed')).toBe(2);
  });

  it('scores the next chunk while the current one commits, and still scores an id of the committing chunk once', async () => {
    const pool = new FakePool(log);
    const dedupe = new RememberingDedupe(log);
    const messages = ['a', 'b', 'a', 'c'].map((id, i) => kafkaMessage(20 + i, encoded(review(id))));
    await handlerFor(pool, metrics, null, undefined, dedupe).eachBatch(payloadOf(messages, log));
    // The second chunk is looked up before the first one's ids are in the dedupe store…
    expect(log.indexOf('scoredBefore a,c')).toBeLessThan(log.indexOf('remember a,b'));
    // …and its 'a' is still left out: ids of the chunk being committed count as scored.
    expect(pool.sent.map((m) => codecFor('ScoredReview').decode(m.value as Buffer).review_id)).toEqual(['a', 'b', 'c']);
    expect(log.filter((line) => /^(commit|resolve|remember)/.test(line))).toEqual(['commit', 'remember a,b', 'resolve 21', 'commit', 'remember c', 'resolve 23']);
    expect((await metrics.duplicates.get()).values[0]?.value).toBe(1);
  });

  it('writes each scored event to its input partition when the topics are co-partitioned', async () => {
    const pool = new FakePool(log);
    await handlerFor(pool, metrics).eachBatch(payloadOf([kafkaMessage(5, encoded(review('p')))], log));
    expect(pool.sent.map((m) => m.partition)).toEqual([PARTITION]);
    expect(codecFor('ScoredReview').decode(pool.sent[0]?.value as Buffer)).toMatchObject({ review_id: 'p', model_version: 4, input_offset: 5 });
  });

  it('skips what a fenced previous owner already committed before scoring the rest', async () => {
    const pool = new FakePool(log);
    pool.needsOffsetCheck = true;
    const messages = [kafkaMessage(20, encoded(review('x'))), kafkaMessage(21, encoded(review('y')))];
    await handlerFor(pool, metrics, 21n).eachBatch(payloadOf(messages, log));
    expect(log).toEqual(['acquire lease 1', 'send scored ×1', 'sendOffsets g reviews/3@22', 'commit', 'resolve 21', 'release lease 1', 'heartbeat']);

    log.length = 0;
    await handlerFor(pool, metrics, 30n).eachBatch(payloadOf(messages, log));
    expect(log).toEqual(['acquire lease 2', 'resolve 29', 'release lease 2']); // the whole batch was committed before: nothing to send
  });

  it('a new owner reads the committed offset on assignment (prepareOwner) and its first batch skips by it without reading again', async () => {
    const pool = new FakePool(log);
    pool.needsOffsetCheck = true;
    const lease = await pool.acquire(PARTITION);
    const samePool: LeasePool<FakeLease> = { acquire: async () => lease, release: (l) => pool.release(l), discard: (l) => pool.discard(l) };
    const reads: number[] = [];
    let committed: bigint | null = 21n;
    const handler = new BatchHandler({
      settings: { groupId: 'g', scoredTopic: 'scored', deadLetterTopic: 'dlq', maxRecordsPerTransaction: 2, retryBackoffMs: 100, maxBackoffMs: 1_000 },
      producers: samePool,
      committedOffset: async (partition) => {
        reads.push(partition);
        return committed;
      },
      coPartitioned: () => true,
      models: { current: () => new TestRuntime('m', 4) },
      metrics,
      log: createLogger('test-batch', 'silent'),
    });
    await handler.prepareOwner(PARTITION);
    expect(reads).toEqual([PARTITION]);
    expect(lease.needsOffsetCheck).toBe(false);
    committed = 0n; // not read again: the first batch uses what was read on assignment
    log.length = 0;
    const messages = [kafkaMessage(20, encoded(review('x'))), kafkaMessage(21, encoded(review('y')))];
    await handler.eachBatch(payloadOf(messages, log));
    expect(reads).toEqual([PARTITION]);
    expect(log).toEqual(['send scored ×1', 'sendOffsets g reviews/3@22', 'commit', 'resolve 21', 'release lease 1', 'heartbeat']);
    // A rebalance asks for the check again (retainOnly): the next batch reads afresh.
    lease.needsOffsetCheck = true;
    committed = 30n;
    log.length = 0;
    await handler.eachBatch(payloadOf([kafkaMessage(25, encoded(review('z')))], log));
    expect(reads).toEqual([PARTITION, PARTITION]);
    expect(log).toEqual(['resolve 29', 'release lease 1']);
  });

  it('on a retriable failure aborts, drops the producer, resolves nothing and pauses the partition for a doubling back-off', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pool = new FakePool(log);
    pool.failCommits = 2;
    const handler = handlerFor(pool, metrics);
    const messages = [kafkaMessage(40, encoded(review('r')))];

    await handler.eachBatch(payloadOf(messages, log));
    expect(log).toEqual(['acquire lease 1', 'send scored ×1', 'sendOffsets g reviews/3@41', 'commit failed', 'abort', 'discard lease 1', 'pause', 'heartbeat']);
    expect(await counter(metrics, 'aborted')).toBe(1);
    vi.advanceTimersByTime(99);
    expect(log.at(-1)).toBe('heartbeat');
    vi.advanceTimersByTime(1);
    expect(log.at(-1)).toBe('resume');

    log.length = 0;
    await handler.eachBatch(payloadOf(messages, log)); // the redelivered batch fails again: twice the wait
    expect(log.slice(-2)).toEqual(['pause', 'heartbeat']);
    vi.advanceTimersByTime(199);
    expect(log.at(-1)).toBe('heartbeat');
    vi.advanceTimersByTime(1);
    expect(log.at(-1)).toBe('resume');

    log.length = 0;
    await handler.eachBatch(payloadOf(messages, log)); // the broker is back: committed, the back-off starts over
    expect(log).toEqual(['acquire lease 3', 'send scored ×1', 'sendOffsets g reviews/3@41', 'commit', 'resolve 40', 'release lease 3', 'heartbeat']);
    pool.failCommits = 1;
    log.length = 0;
    await handler.eachBatch(payloadOf([kafkaMessage(41, encoded(review('s')))], log));
    vi.advanceTimersByTime(99);
    expect(log.at(-1)).toBe('heartbeat');
    vi.advanceTimersByTime(1);
    expect(log.at(-1)).toBe('resume');
  });

  it('cancelRetries leaves a paused partition paused (the consumer is stopping)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pool = new FakePool(log);
    pool.failCommits = 1;
    const handler = handlerFor(pool, metrics);
    await handler.eachBatch(payloadOf([kafkaMessage(1, encoded(review('c')))], log));
    handler.cancelRetries();
    vi.advanceTimersByTime(10_000);
    expect(log).not.toContain('resume');
  });

  it('sends a shadow candidate\'s events to the shadow topic inside the same transaction, before the offsets', async () => {
    const pool = new FakePool(log);
    const candidate = new TestRuntime('m', 9);
    const messages = [kafkaMessage(10, encoded(review('a'))), kafkaMessage(11, encoded(review('b'))), kafkaMessage(12, Buffer.from('not avro'))];
    await handlerFor(pool, metrics, null, { current: () => candidate }).eachBatch(payloadOf(messages, log));
    expect(log).toEqual([
      'acquire lease 1',
      'send scored ×2',
      'send shadow ×2',
      'sendOffsets g reviews/3@12',
      'commit',
      'resolve 11',
      'heartbeat',
      'send dlq ×1', // a chunk with nothing scored has no shadow send
      'sendOffsets g reviews/3@13',
      'commit',
      'resolve 12',
      'release lease 1',
      'heartbeat',
    ]);
    const decoded = pool.sent.slice(0, 4).map((m) => codecFor('ScoredReview').decode(m.value as Buffer));
    expect(decoded.slice(0, 2).map((r) => [r.review_id, r.model_version])).toEqual([['a', 4], ['b', 4]]);
    expect(decoded.slice(2, 4).map((r) => [r.review_id, r.model_version, r.input_offset])).toEqual([['a', 9, 10], ['b', 9, 11]]);
    expect((await metrics.shadowScored.get()).values).toEqual([expect.objectContaining({ labels: { model_version: '9' }, value: 2 })]);
  });

  it('commits production without shadow events when the candidate fails or runs out of time, and counts it', async () => {
    const pool = new FakePool(log);
    const failing = new TestRuntime('m', 9, () => true);
    await handlerFor(pool, metrics, null, { current: () => failing }).eachBatch(payloadOf([kafkaMessage(1, encoded(review('f')))], log));
    expect(log).toEqual(['acquire lease 1', 'send scored ×1', 'sendOffsets g reviews/3@2', 'commit', 'resolve 1', 'release lease 1', 'heartbeat']);
    expect(await shadowCount(metrics, 'score')).toBe(1);

    log.length = 0;
    const started = Date.now();
    await handlerFor(pool, metrics, null, { current: () => new HangingRuntime('m', 9) }).eachBatch(payloadOf([kafkaMessage(2, encoded(review('h')))], log));
    expect(Date.now() - started).toBeLessThan(2_000); // the 200 ms budget, not the candidate, decides
    expect(log).toEqual(['acquire lease 2', 'send scored ×1', 'sendOffsets g reviews/3@3', 'commit', 'resolve 2', 'release lease 2', 'heartbeat']);
    expect(await shadowCount(metrics, 'score')).toBe(2);
    expect(await counter(metrics, 'aborted')).toBe(0);
  });

  it('sends nothing to the shadow topic when no candidate is loaded', async () => {
    const pool = new FakePool(log);
    await handlerFor(pool, metrics, null, { current: () => undefined }).eachBatch(payloadOf([kafkaMessage(7, encoded(review('n')))], log));
    expect(log.filter((l) => l.includes('shadow'))).toEqual([]);
    expect(await shadowCount(metrics, 'score')).toBe(0);
  });

  describe('behind the fetch (overlapFetch)', () => {
    const batchOf = (first: number, ids: string[]): KafkaMessage[] => ids.map((id, i) => kafkaMessage(first + i, encoded(review(id))));
    const bytesOfIds = (ids: string[]): number => ids.reduce((sum, id) => sum + encoded(review(id)).length, 0);
    /** The log of batch a, b, c (offsets 10–12) behind the fetch, up to its second transaction's commit. */
    const FIRST_BATCH_BEHIND = [
      'acquire lease 1',
      'resolve 12', // returned before any transaction: kafkajs may fetch again now
      'heartbeat',
      'send scored ×2',
      'sendOffsets g reviews/3@12',
      'commit',
      'send scored ×1',
      'sendOffsets g reviews/3@13',
    ];

    it('moves the fetch position past a batch at once, commits its transactions behind it in order, and starts the partition\'s next batch only after them', async () => {
      const pool = new FakePool(log);
      const handler = overlappingHandler(pool, metrics, log);
      await handler.eachBatch(payloadOf(batchOf(10, ['a', 'b', 'c']), log));
      // Returned before any transaction: kafkajs may fetch again now.
      expect(log).toEqual(['acquire lease 1', 'resolve 12', 'heartbeat']);
      await handler.eachBatch(payloadOf(batchOf(13, ['d', 'e']), log));
      await handler.drain();
      expect(log).toEqual([
        ...FIRST_BATCH_BEHIND,
        'commit',
        'release lease 1',
        'acquire lease 2', // the next batch waited for all of the first one
        'resolve 14',
        'heartbeat',
        'send scored ×2',
        'sendOffsets g reviews/3@15',
        'commit',
        'release lease 2',
      ]);
      expect(await counter(metrics, 'committed')).toBe(3);
    });

    it('when a transaction behind the fetch fails: drops the lease, moves the fetch position back to it, pauses, and drops unscored what was fetched after it', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const pool = new FakePool(log);
      pool.failTransactions.add(2);
      const handler = overlappingHandler(pool, metrics, log);
      await handler.eachBatch(payloadOf(batchOf(10, ['a', 'b', 'c']), log));
      // Fetched while the first batch was behind: it waits, sees the failure and is dropped.
      await handler.eachBatch(payloadOf(batchOf(13, ['d', 'e']), log));
      expect(log).toEqual([
        ...FIRST_BATCH_BEHIND,
        'commit failed',
        'abort',
        'discard lease 1',
        'seek reviews/3@12', // the first offset not committed, not the batch's first
        'pause',
      ]);
      expect(await counter(metrics, 'aborted')).toBe(1);
      // Handed over after the failure but fetched before the rewind (it starts past offset 12): dropped too.
      log.length = 0;
      await handler.eachBatch(payloadOf(batchOf(14, ['f']), log));
      expect(log).toEqual([]);
      vi.advanceTimersByTime(100);
      expect(log).toEqual(['resume']);
      // Fetched again from the rewound offset: scored and committed.
      log.length = 0;
      await handler.eachBatch(payloadOf(batchOf(12, ['c', 'd', 'e']), log));
      await handler.drain();
      expect(log).toEqual([
        'acquire lease 2',
        'resolve 14',
        'heartbeat',
        'send scored ×2',
        'sendOffsets g reviews/3@14',
        'commit',
        'send scored ×1',
        'sendOffsets g reviews/3@15',
        'commit',
        'release lease 2',
      ]);
      expect(pool.sent.map((m) => codecFor('ScoredReview').decode(m.value as Buffer).review_id)).toEqual(['a', 'b', 'c', 'c', 'd', 'e']); // 'c' once in a committed transaction
    });

    it('commits a batch of fewer than overlapMinBytes before returning (a stream below capacity), a larger one behind the fetch', async () => {
      const pool = new FakePool(log);
      const two = bytesOfIds(['a', 'b']);
      expect(bytesOfIds(['c', 'd', 'e'])).toBeGreaterThan(two);
      const handler = overlappingHandler(pool, metrics, log, two + 1);
      await handler.eachBatch(payloadOf(batchOf(50, ['a', 'b']), log));
      expect(log).toEqual(['acquire lease 1', 'send scored ×2', 'sendOffsets g reviews/3@52', 'commit', 'resolve 51', 'release lease 1', 'heartbeat']);
      log.length = 0;
      await handler.eachBatch(payloadOf(batchOf(52, ['c', 'd', 'e']), log));
      expect(log).toEqual(['acquire lease 2', 'resolve 54', 'heartbeat']);
      await handler.drain();
      expect(log.slice(-2)).toEqual(['commit', 'release lease 2']);
    });

    it('leaves a small batch fetched while its partition\'s previous batch was behind unresolved, to be fetched again with what arrives meanwhile', async () => {
      const pool = new FakePool(log);
      const handler = overlappingHandler(pool, metrics, log, bytesOfIds(['a', 'b', 'c']));
      await handler.eachBatch(payloadOf(batchOf(60, ['a', 'b', 'c']), log));
      await handler.eachBatch(payloadOf(batchOf(63, ['d']), log)); // waits for the first, then returns untouched
      expect(log).toEqual(['acquire lease 1', 'resolve 62', 'heartbeat', 'send scored ×2', 'sendOffsets g reviews/3@62', 'commit', 'send scored ×1', 'sendOffsets g reviews/3@63', 'commit', 'release lease 1']);
      log.length = 0;
      await handler.eachBatch(payloadOf(batchOf(63, ['d', 'e']), log)); // fetched again, with 'e': one transaction, committed first
      expect(log).toEqual(['acquire lease 2', 'send scored ×2', 'sendOffsets g reviews/3@65', 'commit', 'resolve 64', 'release lease 2', 'heartbeat']);
    });

    it('drain waits for the batches behind the fetch, and after it every batch commits inside eachBatch (on stop)', async () => {
      const pool = new FakePool(log);
      const handler = overlappingHandler(pool, metrics, log);
      await handler.eachBatch(payloadOf(batchOf(30, ['a']), log));
      expect(log).not.toContain('commit');
      await handler.drain();
      expect(log.slice(-2)).toEqual(['commit', 'release lease 1']);
      log.length = 0;
      await handler.eachBatch(payloadOf(batchOf(31, ['b']), log));
      expect(log).toEqual(['acquire lease 2', 'send scored ×1', 'sendOffsets g reviews/3@32', 'commit', 'resolve 31', 'release lease 2', 'heartbeat']);
    });
  });
});
