/**
 * Prometheus metrics (prom-client). Each process owns one Registry; components add their own
 * counters/histograms to it. Nothing is computed at scrape time except gauges that are cheap to read,
 * so telemetry costs nothing when nobody scrapes.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createMetricsRegistry(component: string, withDefaults = true): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'driftline_' });
  return registry;
}

/** One readiness condition: resolves when met, throws (or rejects) with the reason when not. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void> | void;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: true } | { ok: false; reason: string }>;
}

/** A check on in-process state: met() says whether it holds, reason() why not. */
export function readinessCondition(name: string, met: () => boolean, reason: string): ReadinessCheck {
  return {
    name,
    check() {
      if (!met()) throw new Error(reason);
    },
  };
}

/** A check slower than this counts as failed: a hung Redis or ClickHouse must not hang the probe. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<ReadinessReport['checks'][string]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(() => check.check()), timeout]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check concurrently; ready only when all pass. */
export async function checkReadiness(checks: readonly ReadinessCheck[], timeoutMs = READINESS_CHECK_TIMEOUT_MS): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(async (check) => [check.name, await runCheck(check, timeoutMs)] as const));
  return { ready: results.every(([, result]) => result.ok), checks: Object.fromEntries(results) };
}

export interface ServeMetricsOptions {
  /** `GET /ready`: 200 when every check passes, 503 with the failing reasons otherwise (absent: 404). */
  readiness?: readonly ReadinessCheck[];
}

/**
 * Serves `GET /metrics`, `/health` (liveness: the process answers) and, given checks, `/ready` (readiness:
 * the component can do its work) on its own port for the streaming components.
 */
export async function serveMetrics(registry: Registry, port: number, host = '127.0.0.1', options: ServeMetricsOptions = {}): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      return;
    }
    if (req.url === '/ready' && options.readiness) {
      checkReadiness(options.readiness)
        .then((report) => {
          res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: report.ready ? 'ready' : 'not ready', checks: report.checks }));
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      return;
    }
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

type SeriesLabels = Record<string, string | number>;

/** What ModelVersionSeries needs of a prom-client metric (Counter, Gauge, Histogram all have it). */
export interface RemovableMetric {
  remove(labels: SeriesLabels): void;
}

/**
 * Bounds the Prometheus series that carry a model version label. Every hot swap or promotion adds a
 * version, and prom-client keeps each series it ever saw until the process exits: a long-lived
 * process would export the series of every version it ever served. Callers pass each update's labels
 * through `note`; the series of the `keep` most recently used versions stay, and when one more
 * version appears all series of the least recently used one are removed from their metrics.
 */
export class ModelVersionSeries {
  /** version → metric → series key → labels; Map order is least recently used first. */
  private readonly byVersion = new Map<string, Map<RemovableMetric, Map<string, SeriesLabels>>>();
  private latest: string | undefined;

  constructor(readonly keep: number) {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  }

  /** Records that `metric` has the series `labels` of model `version`; returns `labels` for the update itself. */
  note<L extends SeriesLabels>(metric: RemovableMetric, version: string | number, labels: L): L {
    const series = this.use(String(version));
    let ofMetric = series.get(metric);
    if (!ofMetric) series.set(metric, (ofMetric = new Map()));
    const key = JSON.stringify(labels);
    if (!ofMetric.has(key)) ofMetric.set(key, labels);
    return labels;
  }

  /** The versions whose series are kept, least recently used first. */
  versions(): string[] {
    return [...this.byVersion.keys()];
  }

  private use(version: string): Map<RemovableMetric, Map<string, SeriesLabels>> {
    const known = this.byVersion.get(version);
    if (known && version === this.latest) return known;
    const series = known ?? new Map<RemovableMetric, Map<string, SeriesLabels>>();
    this.byVersion.delete(version);
    this.byVersion.set(version, series);
    this.latest = version;
    while (this.byVersion.size > this.keep) this.retire(this.byVersion.keys().next().value as string);
    return series;
  }

  private retire(version: string): void {
    for (const [metric, series] of this.byVersion.get(version) ?? []) for (const labels of series.values()) metric.remove(labels);
    this.byVersion.delete(version);
  }
}
