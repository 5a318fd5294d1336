/**
 * The group's committed offset, read so that a transaction still committing offsets is waited for.
 *
 * The window it closes: after a partition moves, the new owner's InitProducerId fences the old owner (a
 * zombie) and waits until the zombie's transaction is complete, then re-reads the committed offset to skip
 * what the zombie already committed. But the group coordinator applies a committed transaction's offsets
 * (TxnOffsetCommit) only when it processes the commit marker on __consumer_offsets, asynchronously after
 * the marker is written; until then a plain OffsetFetch answers the offset from before that transaction,
 * and the new owner would score the zombie's last batch a second time. OffsetFetch v7 with require_stable
 * (KIP-447) answers UNSTABLE_OFFSET_COMMIT instead while the group has such pending offsets, and the
 * fetch is tried again until they are applied.
 *
 * kafkajs 2.2 sends OffsetFetch up to v4 only (admin.fetchOffsets has no require_stable), so the v7
 * request is encoded here with kafkajs' own protocol encoder and sent on its connection to the group
 * coordinator. A broker older than Kafka 2.5 (no v7) gets the plain fetch, with a warning once.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { DriftlineError } from '../core/errors.js';
import { withRetry } from '../core/retry.js';
import { isTransientKafkaError, kafkaError } from '../core/kafka.js';
import type { Logger } from '../core/logger.js';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  writeUVarIntBytes(value?: Buffer | string | null): KafkajsEncoder;
  writeUVarIntString(value: string): KafkajsEncoder;
  /** Only encoders are written (kafkajs drops other values): wrap numbers in an Encoder. */
  writeUVarIntArray(values: KafkajsEncoder[]): KafkajsEncoder;
  writeInt32(value: number): KafkajsEncoder;
  writeBoolean(value: boolean): KafkajsEncoder;
}
interface KafkajsDecoder {
  readTaggedFields(): void;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readUVarIntString(): string | null;
  readUVarIntArray<T>(reader: (decoder: KafkajsDecoder) => T): T[] | null;
}
interface Broker {
  versions: Record<number, { minVersion: number; maxVersion: number }> | null;
  connectionPool: { send(request: { request: unknown; response: unknown }): Promise<unknown> };
}
interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(options: { groupId: string }): Promise<Broker>;
}

const Encoder = require('kafkajs/src/protocol/encoder') as new () => KafkajsEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (data: Buffer) => KafkajsDecoder;
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode(code: number): Error };

const OFFSET_FETCH = 9;
const UNSTABLE_OFFSET_COMMIT = 88;

interface PartitionAnswer {
  partition: number;
  offset: string;
  errorCode: number;
}

/** OffsetFetch v7 (flexible): group_id topics[name partition_indexes[]] require_stable. */
function offsetFetchV7(groupId: string, topic: string, partitions: number[]): { request: unknown; response: unknown } {
  const request = {
    apiKey: OFFSET_FETCH,
    apiVersion: 7,
    apiName: 'OffsetFetch',
    encode: async () =>
      new Encoder()
        .writeUVarIntBytes() // the request header's (v2) empty tagged fields; kafkajs writes header v1
        .writeUVarIntString(groupId)
        .writeUVarIntArray([new Encoder().writeUVarIntString(topic).writeUVarIntArray(partitions.map((p) => new Encoder().writeInt32(p))).writeUVarIntBytes()])
        .writeBoolean(true)
        .writeUVarIntBytes(),
  };
  const decodePartition = (decoder: KafkajsDecoder): PartitionAnswer => {
    const partition = decoder.readInt32();
    const offset = decoder.readInt64().toString();
    decoder.readInt32(); // committed_leader_epoch
    decoder.readUVarIntString(); // metadata
    const errorCode = decoder.readInt16();
    decoder.readTaggedFields();
    return { partition, offset, errorCode };
  };
  const response = {
    decode: async (data: Buffer) => {
      const decoder = new Decoder(data);
      decoder.readTaggedFields(); // response header v1
      const throttleTime = decoder.readInt32();
      const topics = decoder.readUVarIntArray((d) => {
        d.readUVarIntString();
        const answers = d.readUVarIntArray(decodePartition) ?? [];
        d.readTaggedFields();
        return answers;
      });
      const errorCode = decoder.readInt16();
      return { throttleTime, errorCode, partitions: (topics ?? []).flat() };
    },
    parse: async (data: { errorCode: number; partitions: PartitionAnswer[] }) => {
      if (data.errorCode !== 0) throw createErrorFromCode(data.errorCode);
      return data;
    },
  };
  return { request, response };
}

/** kafkajs builds each client's cluster through this private function; reusing it keeps brokers, retry and logging. */
function createCluster(kafka: Kafka): Cluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const factory = symbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[symbol];
  if (typeof factory !== 'function') throw new DriftlineError('INTERNAL', 'kafkajs has no createCluster: the stable offset fetch needs kafkajs 2.2');
  return (factory as (options: object) => Cluster).call(kafka, { allowAutoTopicCreation: false });
}

export interface StableOffsetFetcher {
  /** The committed offset of the partition (null when none), once no transaction is committing offsets for it. */
  committed(partition: number): Promise<bigint | null>;
  /**
   * Connects and finds the group coordinator now (before the group is joined): otherwise the first batch of
   * a new owner pays for the connection, the metadata and the coordinator look-up (~200 ms seen in the bench).
   */
  connect(): Promise<void>;
  /** How often the broker said a transaction's offsets were still pending (for logs and tests). */
  readonly unstableAnswers: number;
  close(): Promise<void>;
}

export interface StableOffsetOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  log: Logger;
  /** Plain fetch (OffsetFetch v4, no require_stable) for a broker without v7. */
  fallback(partition: number): Promise<bigint | null>;
  /** Tries while offsets stay pending; a commit completes in milliseconds, an abandoned one after the transaction timeout. */
  retry?: { retries: number; initialDelayMs: number; maxDelayMs: number };
}

const DEFAULT_RETRY = { retries: 40, initialDelayMs: 20, maxDelayMs: 1_000 } as const;

export function createStableOffsetFetcher(options: StableOffsetOptions): StableOffsetFetcher {
  const cluster = createCluster(options.kafka);
  let connected: Promise<void> | undefined;
  let unstableAnswers = 0;
  let warnedOld = false;

  async function connect(): Promise<void> {
    connected ??= cluster.connect().catch((err: unknown) => {
      connected = undefined;
      throw err;
    });
    await connected;
  }

  async function fetchOnce(partition: number): Promise<bigint | null> {
    await connect();
    const coordinator = await cluster.findGroupCoordinator({ groupId: options.groupId });
    if ((coordinator.versions?.[OFFSET_FETCH]?.maxVersion ?? 0) < 7) {
      if (!warnedOld) options.log.warn('the broker has no OffsetFetch v7 (Kafka < 2.5): committed offsets are read without require_stable');
      warnedOld = true;
      return options.fallback(partition);
    }
    const answer = (await coordinator.connectionPool.send(offsetFetchV7(options.groupId, options.topic, [partition]))) as { partitions: PartitionAnswer[] };
    const found = answer.partitions.find((p) => p.partition === partition);
    if (found?.errorCode === UNSTABLE_OFFSET_COMMIT) {
      unstableAnswers += 1;
      throw new DriftlineError('KAFKA_UNAVAILABLE', `offsets of ${options.groupId} on ${options.topic}[${partition}] are still being committed by a transaction`);
    }
    if (found && found.errorCode !== 0) throw createErrorFromCode(found.errorCode);
    if (!found || BigInt(found.offset) < 0n) return null;
    return BigInt(found.offset);
  }

  return {
    async connect() {
      await connect();
      await cluster.findGroupCoordinator({ groupId: options.groupId });
    },
    async committed(partition) {
      return withRetry(
        async () => {
          try {
            return await fetchOnce(partition);
          } catch (err) {
            // Retriable Kafka errors (coordinator moving, connection lost) and pending offsets are tried again.
            if (err instanceof DriftlineError) throw err;
            throw isTransientKafkaError(err) ? kafkaError(err, 'reading committed offsets') : err;
          }
        },
        { ...(options.retry ?? DEFAULT_RETRY) },
      );
    },
    get unstableAnswers() {
      return unstableAnswers;
    },
    async close() {
      if (connected) await cluster.disconnect().catch(() => undefined);
    },
  };
}
