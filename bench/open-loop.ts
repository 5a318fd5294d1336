/**
 * An open-loop HTTP load generator (the wrk2 way): request i is due at start + i / rate, whatever happened to
 * the earlier ones, and its latency is measured from that due time, so a stalled server is charged for the
 * requests that would have been sent while it stalled (coordinated omission is accounted for, exactly).
 * Requests go over a fixed pool of keep-alive connections; when all are busy, a due request waits for one,
 * and that wait is part of its latency (what a client with that many connections sees).
 *
 * Why not autocannon's rate option: autocannon 8 limits each connection to rate/connections requests per
 * second, sent back to back at the start of each second (bursts of `connections` concurrent requests), and
 * "corrects" for coordinated omission with an expected interval of ceil(1 / rate) = 1 ms, so a response that
 * took L ms is recorded L times (L, L-1, ..., 1): its percentiles are weighted by latency.
 */
import { Agent, request } from 'node:http';

export interface OpenLoopOptions {
  url: string;
  path: string;
  rate: number;
  durationS: number;
  connections: number;
  bodies: readonly string[];
  /** 'uniform' (default): one request every 1 / rate s; 'poisson': exponential gaps of mean 1 / rate s (seeded, the same every run). */
  arrivals?: 'uniform' | 'poisson';
}

export interface OpenLoopResult {
  /** From each request's due time to the end of its response, ms, ascending. */
  latenciesMs: Float64Array;
  /** From the moment each request was written to the end of its response, ms, ascending. */
  serviceMs: Float64Array;
  requests: number;
  errors: number;
  non2xx: number;
  /** Requests answered per second of the run. */
  ratePerS: number;
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const total = Math.round(options.rate * options.durationS);
  const latencies = new Float64Array(total);
  const service = new Float64Array(total);
  const bodies = options.bodies.map((body) => Buffer.from(body));
  const intervalMs = 1000 / options.rate;
  const offsets = dueOffsets(total, intervalMs, options.arrivals ?? 'uniform');
  let sent = 0;
  let done = 0;
  let errors = 0;
  let non2xx = 0;
  const start = performance.now() + 20;

  return new Promise((resolve) => {
    const finish = (): void => {
      agent.destroy();
      const elapsedS = (performance.now() - start) / 1000;
      resolve({
        latenciesMs: latencies.sort(),
        serviceMs: service.sort(),
        requests: total,
        errors,
        non2xx,
        ratePerS: Number((total / elapsedS).toFixed(1)),
      });
    };
    const settle = (): void => {
      done++;
      if (done === total) finish();
    };
    const send = (i: number): void => {
      const due = start + offsets[i]!;
      const body = bodies[i % bodies.length]!;
      const req = request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: options.path,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          // The socket is assigned when the request is written; service time counts from there.
          res.on('data', () => undefined);
          res.on('end', () => {
            const end = performance.now();
            latencies[i] = end - due;
            service[i] = end - written;
            if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) non2xx++;
            settle();
          });
        },
      );
      let written = performance.now();
      req.on('socket', () => (written = performance.now()));
      req.on('error', () => {
        errors++;
        latencies[i] = performance.now() - due;
        service[i] = performance.now() - written;
        settle();
      });
      req.end(body);
    };
    const tick = (): void => {
      const now = performance.now();
      // Catch up on every request due by now (a late timer does not thin the load).
      while (sent < total && start + offsets[sent]! <= now) send(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, start + offsets[sent]! - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
}

/** Each request's due time after the start, ms. */
function dueOffsets(total: number, intervalMs: number, arrivals: 'uniform' | 'poisson'): Float64Array {
  const offsets = new Float64Array(total);
  // mulberry32: a fixed seed, so every run (before/after a change) gets the same arrival pattern.
  let seed = 0x5eed;
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  let at = 0;
  for (let i = 0; i < total; i++) {
    offsets[i] = arrivals === 'uniform' ? i * intervalMs : at;
    at += -Math.log(1 - random()) * intervalMs;
  }
  return offsets;
}

/** Nearest-rank percentile (q in 0..1) of an ascending array. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
