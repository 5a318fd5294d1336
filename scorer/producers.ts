/**
 * One transactional producer per owned input partition (kafkajs has one transaction per producer, and the
 * pre-KIP-447 exactly-once recipe needs the transactional id to follow the partition, not the process):
 * transactionalId = `<prefix>-<group>-<topic>-<partition>`. When a partition moves to another process (or
 * a crashed process restarts), the new owner's InitProducerId bumps the epoch, which fences the old
 * owner and aborts or completes its open transaction before the new owner reads the committed offset.
 */
import { Partitioners, type ICustomPartitioner, type Kafka, type Producer } from 'kafkajs';
import type { Logger } from '../core/logger.js';

export interface PartitionProducer {
  readonly partition: number;
  readonly producer: Producer;
  /**
   * True until the first transaction after (re)creation has checked the group's committed offset:
   * the batch in hand may have been fetched from an offset a fenced owner had already moved past.
   */
  needsOffsetCheck: boolean;
  /** The committed offset read for that check on assignment (scorer/batch.ts prepareOwner). */
  checkedOffset?: { committed: bigint | null };
}

interface Slot {
  lease: PartitionProducer;
  ready: Promise<void>;
  /** One batch at a time per partition: a transactional producer holds one transaction at a time. */
  lock: Promise<void>;
  unlock: () => void;
  holders: number;
  closeWhenReleased: boolean;
}

/**
 * Retry policy of the transactional producers. A transaction started right after the previous commit often
 * gets CONCURRENT_TRANSACTIONS from AddPartitionsToTxn (the coordinator is still writing the commit markers,
 * a few ms); with the client-wide 200 ms first retry every transaction would stall that long, so these
 * producers retry after 20 ms (as the Java client does for this case) and back off from there.
 */
export const TRANSACTIONAL_RETRY = { initialRetryTime: 20, maxRetryTime: 5_000, retries: 12 } as const;

/**
 * A message that names its partition (co-partitioned topics: the input's) goes there at once; kafkajs's
 * default partitioner would first filter the topic's partition metadata for every message. Others get the
 * default (murmur2 of the key, Java-compatible).
 */
export const inputPartitionFirst: ICustomPartitioner = () => {
  const byKey = Partitioners.DefaultPartitioner();
  return (args) => args.message.partition ?? byKey(args);
};

export interface PartitionProducerOptions {
  transactionalIdFor(partition: number): string;
  transactionTimeoutMs: number;
}

export class PartitionProducers {
  private readonly slots = new Map<number, Slot>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: PartitionProducerOptions,
    private readonly log: Logger,
  ) {}

  /**
   * The partition's producer, connected and with its transactional id initialised (which fences older owners).
   * Waits while another batch of the same partition still holds it (possible right after a rebalance).
   */
  async acquire(partition: number): Promise<PartitionProducer> {
    let slot = this.slots.get(partition);
    if (!slot) {
      slot = this.create(partition);
      this.slots.set(partition, slot);
    }
    slot.holders += 1;
    slot.closeWhenReleased = false;
    const previous = slot.lock;
    let unlock: () => void = () => undefined;
    slot.lock = new Promise<void>((resolve) => (unlock = resolve));
    await previous;
    slot.unlock = unlock;
    if (this.slots.get(partition) !== slot) {
      // Discarded or closed while we waited: start over with a fresh producer.
      slot.holders -= 1;
      unlock();
      return this.acquire(partition);
    }
    try {
      await slot.ready;
    } catch (err) {
      slot.holders -= 1;
      unlock();
      if (this.slots.get(partition) === slot) this.slots.delete(partition);
      throw err;
    }
    return slot.lease;
  }

  release(lease: PartitionProducer): void {
    const slot = this.slots.get(lease.partition);
    if (!slot || slot.lease !== lease) return;
    slot.holders -= 1;
    slot.unlock();
    if (slot.holders === 0 && slot.closeWhenReleased) void this.close(lease.partition);
  }

  /** Drops a producer after a failed transaction: the next batch starts with a new one (and re-checks offsets). */
  async discard(lease: PartitionProducer): Promise<void> {
    const slot = this.slots.get(lease.partition);
    if (slot?.lease === lease) {
      this.slots.delete(lease.partition);
      slot.holders -= 1;
      slot.unlock();
    }
    await lease.producer.disconnect().catch((err: Error) => this.log.warn({ partition: lease.partition, err: err.message }, 'disconnecting a failed producer'));
  }

  /**
   * After a rebalance: closes the producers of partitions this process no longer owns (once their batch is
   * done), and makes the kept ones re-read the committed offset before their next transaction, because the
   * consumer re-fetched its positions during the rejoin, possibly before an in-flight commit of ours landed.
   */
  retainOnly(assigned: ReadonlySet<number>): void {
    for (const [partition, slot] of this.slots) {
      if (assigned.has(partition)) {
        slot.lease.needsOffsetCheck = true;
        continue;
      }
      if (slot.holders > 0) slot.closeWhenReleased = true;
      else void this.close(partition);
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((partition) => this.close(partition)));
  }

  get size(): number {
    return this.slots.size;
  }

  private create(partition: number): Slot {
    const transactionalId = this.options.transactionalIdFor(partition);
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: { ...TRANSACTIONAL_RETRY },
      createPartitioner: inputPartitionFirst,
    });
    const lease: PartitionProducer = { partition, producer, needsOffsetCheck: true };
    const ready = (async () => {
      try {
        await producer.connect();
        // InitProducerId happens on the first transaction(); do it now so the fence is up before offsets are read.
        const warmUp = await producer.transaction();
        await warmUp.abort();
      } catch (err) {
        // The slot is dropped and the next batch makes a new producer: close this one's connections now,
        // or a coordinator outage leaks one client per partition per back-off.
        await producer.disconnect().catch((disconnectErr: Error) => this.log.warn({ partition, err: disconnectErr.message }, 'disconnecting a producer whose warm-up failed'));
        throw err;
      }
      this.log.info({ partition, transactionalId }, 'transactional producer ready');
    })();
    return { lease, ready, lock: Promise.resolve(), unlock: () => undefined, holders: 0, closeWhenReleased: false };
  }

  private async close(partition: number): Promise<void> {
    const slot = this.slots.get(partition);
    if (!slot) return;
    this.slots.delete(partition);
    await slot.ready.catch(() => undefined);
    await slot.lease.producer.disconnect().catch((err: Error) => this.log.warn({ partition, err: err.message }, 'disconnecting a producer'));
    this.log.info({ partition }, 'transactional producer closed');
  }
}
