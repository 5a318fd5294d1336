/**
 * A small TCP proxy between kafkajs and the real broker, to cut a connection at a chosen moment:
 * "the request reached the broker and was written, but the answer never came back" — the case where a
 * producer cannot know whether its batch is on the topic. Real Kafka stays behind it (never restarted).
 *
 * kafkajs connects to the addresses the broker advertises, so a client goes through the proxy only when
 * built with `proxiedKafka` (a socketFactory that sends every broker connection to the proxy).
 */
import { createServer, Socket, type Server } from 'node:net';
import { Kafka, type ISocketFactory, type KafkaConfig } from 'kafkajs';
import { coreSettings } from '../../core/config.js';

/** Kafka protocol API keys the proxy can watch for. */
export const API_KEYS = { produce: 0, fetchOffsets: 9, initProducerId: 22 } as const;

export interface KafkaProxy {
  readonly port: number;
  /** Connections the proxy accepted so far (kafkajs opens one per broker per client, plus reconnects). */
  readonly accepted: number;
  /** Connections open right now. */
  readonly open: number;
  /**
   * The next request with this API key is passed to the broker, its answer is dropped and the connection cut;
   * from then on new connections are refused (closed at once) until `heal()`. Resolves when the cut happened.
   */
  cutAfterRequest(apiKey: number): Promise<void>;
  /** Refuse every new connection (closed at once) and cut the open ones. */
  cutAll(): void;
  /** Accept connections again. */
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  broker: Socket;
}

/** Calls onRequest with the API key of every request frame (int32 size, int16 api key, ...) on a client stream. */
function requestWatcher(onRequest: (apiKey: number) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0;
  return (chunk) => {
    let data: Buffer = chunk;
    if (skip > 0) {
      const skipped = Math.min(skip, data.length);
      skip -= skipped;
      data = data.subarray(skipped);
    }
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    while (pending.length >= 6) {
      const size = pending.readInt32BE(0);
      onRequest(pending.readInt16BE(4));
      if (pending.length < 4 + size) {
        skip = 4 + size - pending.length;
        pending = Buffer.alloc(0);
        return;
      }
      pending = pending.subarray(4 + size);
    }
  };
}

export async function startKafkaProxy(target = coreSettings.load().kafkaBrokers[0]!): Promise<KafkaProxy> {
  const [targetHost, targetPort] = splitHostPort(target);
  const pairs = new Set<Pair>();
  let accepted = 0;
  let refusing = false;
  let armed: { apiKey: number; cut: () => void } | undefined;

  const server: Server = createServer((client) => {
    accepted += 1;
    if (refusing) {
      client.destroy();
      return;
    }
    const broker = new Socket();
    const pair: Pair = { client, broker };
    pairs.add(pair);
    let dropAnswers = false;
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      broker.destroy();
    };
    const watch = requestWatcher((apiKey) => {
      if (armed?.apiKey !== apiKey) return;
      const { cut } = armed;
      armed = undefined;
      dropAnswers = true;
      // Let the broker take and write the request, then cut before its answer can arrive.
      broker.once('data', () => {
        refusing = true;
        end();
        cut();
      });
    });
    client.on('data', (chunk: Buffer) => {
      watch(chunk);
      broker.write(chunk);
    });
    broker.on('data', (chunk: Buffer) => {
      if (!dropAnswers) client.write(chunk);
    });
    client.on('error', end);
    broker.on('error', end);
    client.on('close', end);
    broker.on('close', end);
    broker.connect(targetPort, targetHost);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const cutAll = (): void => {
    refusing = true;
    for (const pair of [...pairs]) {
      pair.client.destroy();
      pair.broker.destroy();
      pairs.delete(pair);
    }
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    cutAfterRequest(apiKey) {
      return new Promise<void>((resolve) => {
        armed = { apiKey, cut: resolve };
      });
    },
    cutAll,
    heal() {
      refusing = false;
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

/** A kafkajs client whose every broker connection goes through the proxy. */
export function proxiedKafka(proxy: KafkaProxy, clientId: string, extra: Partial<KafkaConfig> = {}): Kafka {
  const socketFactory: ISocketFactory = ({ onConnect }) => {
    const socket = new Socket();
    socket.setKeepAlive(true, 60_000);
    return socket.connect(proxy.port, '127.0.0.1', onConnect);
  };
  return new Kafka({
    clientId,
    brokers: [`127.0.0.1:${proxy.port}`],
    connectionTimeout: 2_000,
    requestTimeout: 10_000,
    logLevel: 0,
    socketFactory,
    ...extra,
  });
}
