/**
 * The retrain policy (off by default): when the production version's windows stay red for N windows in a
 * row, or its live macro-F1 falls below a floor, build a candidate by warm start from production on the
 * reference training data plus the recent labelled sample (recent_reviews, drift-aggregator/recent-sample.ts;
 * rating -> sentiment label as every training derives it), compare it with production on the fixed hold-out
 * of the reference data AND on the held-out part of the recent sample, and register it as staging with that
 * comparison (the version's metrics.comparison and its train_ run). The shadow path then decides: the scorer
 * shadow-scores the staging version, and with DRIFTLINE_RETRAIN_AUTO_PROMOTE the policy promotes it once the
 * shadow gate (core/model/shadow-gate.ts) passes; the automatic rollback still guards the result.
 *
 * The decision is a pure function of the windows (decideRetrain); reading ClickHouse, training and promoting
 * are in RetrainPolicy, which one `driftline retrain-policy` process (or `driftline serve`) runs on a timer.
 *
 * One instance at a time: each check holds a lock file in the model's registry directory (the registry's own
 * lock, core/model/registry/lock.ts); a second instance that finds it held skips its check. Why that lock and
 * not a Redis lease: what must not happen twice is a registry write (a second staging candidate, a second
 * promotion), and the registry's writers already serialise on its directory (one writer host, see
 * core/model/registry/registry.ts), so every instance that could write the same model sees the same lock,
 * whatever Redis it is configured with; `driftline retrain-policy --once` needs no Redis at all. A crashed
 * holder's lock is taken over at once on the same host (dead pid) and after DRIFTLINE_RETRAIN_LOCK_STALE_MS
 * elsewhere. Training blocks the event loop, so the lock's heartbeat (like a lease renewal) cannot run during
 * it; a holder taken over meanwhile finds out before registering (assertHeld in compare) and drops its candidate.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClickHouseClient } from '../core/clickhouse.js';
import { ALL_SEGMENTS, RECENT_REVIEWS_TABLE, WINDOW_SIZE_SQL, WINDOW_SUMMARY_TABLE } from '../core/drift/tables.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { acquireLock, type ModelRegistry, type ModelVersionRecord, type RegistryLock } from '../core/model/registry/index.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { clickhouseShadowWindows, promoteWithShadowGate, type ShadowGateOptions } from '../core/model/shadow-gate.js';
import type { ModelRuntime } from '../core/model/types.js';
import type { RetrainPolicyOptions } from './config.js';
import { type LabeledReview, splitByReviewId } from './data.js';
import { evaluatePredictions, scoreAll } from './evaluate.js';
import { HOLDOUT_SALT, runTrainingJob, type TrainingReport } from './pipeline.js';
import type { RetrainPolicyMetrics, TriggerReason } from './retrain-policy-metrics.js';

/** Actor of the policy's registrations and promotions (how its candidates are recognised). */
export const RETRAIN_ACTOR = 'retrain-policy';

/** One window_summary row (segment __all__) of the production version. */
export interface PolicyWindow {
  windowStart: number;
  events: number;
  status: string;
  macroF1: number | null;
}

export interface RetrainDecision {
  retrain: boolean;
  reason: string;
  /** The rule that triggered (when retrain). */
  trigger?: TriggerReason;
}

/** Whether the newest windows (any order) call for a retrain: the newest `redWindows` all red, or their macro-F1 under the floor. */
export function decideRetrain(windows: readonly PolicyWindow[], options: Pick<RetrainPolicyOptions, 'redWindows' | 'macroF1Floor'>): RetrainDecision {
  const newest = [...windows].sort((a, b) => b.windowStart - a.windowStart).slice(0, options.redWindows);
  if (newest.length < options.redWindows) return { retrain: false, reason: `${newest.length} windows closed, ${options.redWindows} needed` };
  if (newest.every((w) => w.status === 'red')) return { retrain: true, trigger: 'red_windows', reason: `the newest ${options.redWindows} windows are red` };
  const labelled = newest.filter((w) => w.macroF1 !== null && w.events > 0);
  const events = labelled.reduce((sum, w) => sum + w.events, 0);
  if (options.macroF1Floor > 0 && events > 0) {
    const f1 = labelled.reduce((sum, w) => sum + w.macroF1! * w.events, 0) / events;
    if (f1 < options.macroF1Floor) return { retrain: true, trigger: 'macro_f1_floor', reason: `live macro-F1 ${f1.toFixed(4)} over the newest ${labelled.length} windows is below the floor ${options.macroF1Floor}` };
  }
  return { retrain: false, reason: `the newest ${options.redWindows} windows are not all red${options.macroF1Floor > 0 ? ` and live macro-F1 is not below ${options.macroF1Floor}` : ''}` };
}

/** A recent_reviews row as a labelled review: the star rating is the label, as in any training data. */
interface RecentRow {
  review_id: string;
  text: string;
  title: string | null;
  category: string | null;
  product_id: string | null;
  helpful_votes: number | string | null;
  verified: number | string | null;
  rating: number | string;
  event_time_ms: number | string | null;
}

function labelled(row: RecentRow, modelVersion: number): LabeledReview {
  return {
    review_id: row.review_id,
    text: row.text,
    title: row.title,
    product_id: row.product_id,
    category: row.category,
    rating: Number(row.rating),
    helpful_votes: row.helpful_votes === null ? null : Number(row.helpful_votes),
    verified: row.verified === null ? null : Number(row.verified) === 1,
    event_time_ms: row.event_time_ms === null ? null : Number(row.event_time_ms),
    // Per-source quality of the run tells reference and recent rows apart ('recent' family).
    source: `recent/v${modelVersion}`,
  };
}

/** The production version's newest windows (segment __all__, smallest size), newest first. */
export async function readPolicyWindows(clickhouse: ClickHouseClient, database: string, name: string, version: number, count: number): Promise<PolicyWindow[]> {
  const result = await clickhouse.query({
    query: `SELECT toUnixTimestamp64Milli(window_start) AS start, events, status, macro_f1
            FROM ${database}.${WINDOW_SUMMARY_TABLE} FINAL
            WHERE model_name = {model:String} AND model_version = {version:UInt32} AND segment = {segment:String}
              AND ${WINDOW_SIZE_SQL} = (SELECT min(${WINDOW_SIZE_SQL}) FROM ${database}.${WINDOW_SUMMARY_TABLE} WHERE model_name = {model:String} AND model_version = {version:UInt32})
            ORDER BY window_start DESC LIMIT {count:UInt32}`,
    query_params: { model: name, version, segment: ALL_SEGMENTS, count },
    format: 'JSONEachRow',
  });
  const rows = (await result.json()) as Array<{ start: number | string; events: number | string; status: string; macro_f1: number | null }>;
  return rows.map((r) => ({ windowStart: Number(r.start), events: Number(r.events), status: r.status, macroF1: r.macro_f1 === null ? null : Number(r.macro_f1) }));
}

/** The recent labelled sample of a version: recent_reviews rows with text of its newest `windows` windows. */
export async function readRecentSample(clickhouse: ClickHouseClient, database: string, name: string, version: number, windows: number): Promise<LabeledReview[]> {
  const result = await clickhouse.query({
    query: `SELECT review_id, text, title, category, product_id, helpful_votes, verified, rating, event_time_ms
            FROM ${database}.${RECENT_REVIEWS_TABLE} FINAL
            WHERE model_name = {model:String} AND model_version = {version:UInt32} AND text IS NOT NULL AND rating BETWEEN 1 AND 5
              AND window_start >= (SELECT min(s) FROM (SELECT DISTINCT window_start AS s FROM ${database}.${RECENT_REVIEWS_TABLE}
                                   WHERE model_name = {model:String} AND model_version = {version:UInt32} ORDER BY s DESC LIMIT {windows:UInt32}))
            ORDER BY window_start, sample_hash`,
    query_params: { model: name, version, windows },
    format: 'JSONEachRow',
  });
  const rows = (await result.json()) as RecentRow[];
  // One row per review: the same review can be sampled by two versions' windows, never twice in one.
  const byId = new Map(rows.map((row) => [row.review_id, labelled(row, version)]));
  return [...byId.values()];
}

/** Accuracy / macro-F1 of a runtime on labelled rows. */
async function quality(runtime: ModelRuntime, rows: readonly LabeledReview[]): Promise<{ rows: number; accuracy: number | null; macroF1: number | null }> {
  if (rows.length === 0) return { rows: 0, accuracy: null, macroF1: null };
  const report = evaluatePredictions(rows, await scoreAll(runtime, rows), []);
  return { rows: rows.length, accuracy: report.sentiment.accuracy, macroF1: report.sentiment.macroF1 };
}

export interface RetrainPolicyDeps {
  /** A registry whose promotions reach the scorers (core/model/promotions.ts publishingRegistry). */
  registry: ModelRegistry;
  clickhouse: ClickHouseClient;
  database: string;
  name: string;
  /** The reference training data, already read (RetrainPolicyOptions.data). */
  reference: () => Promise<LabeledReview[]>;
  log: Logger;
  gate: ShadowGateOptions;
  holdout?: number;
  now?: () => number;
  /** Where the checks are counted (retrain-policy-metrics.ts); none: not counted. */
  metrics?: RetrainPolicyMetrics;
}

export type TickOutcome =
  | { action: 'none'; reason: string }
  | { action: 'trained'; reason: string; version: number; report: TrainingReport }
  | { action: 'promoted'; reason: string; version: number }
  | { action: 'waiting'; reason: string; version: number }
  /** Another instance holds the policy's lock: this one did nothing. */
  | { action: 'skipped'; reason: string };

export class RetrainPolicy {
  private readonly now: () => number;

  constructor(
    private readonly options: RetrainPolicyOptions,
    private readonly deps: RetrainPolicyDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** The lock file of the policy of one model, beside the registry's own writer lock. */
  lockPath(): string {
    return join(this.deps.registry.root, this.deps.name, '.retrain-policy.lock');
  }

  /**
   * One check under the policy's lock (skipped while another instance holds it): offer a pending candidate to
   * the shadow gate, or decide whether to train one. Counted in the metrics, failures too (and rethrown).
   */
  async tick(): Promise<TickOutcome> {
    const metrics = this.deps.metrics;
    let outcome: TickOutcome;
    try {
      outcome = await this.lockedCheck();
    } catch (err) {
      metrics?.checks.inc({ outcome: 'failed' });
      metrics?.lastOutcome.set({ outcome: 'failed' }, this.now() / 1_000);
      throw err;
    }
    metrics?.checks.inc({ outcome: outcome.action });
    metrics?.lastOutcome.set({ outcome: outcome.action }, this.now() / 1_000);
    return outcome;
  }

  private async lockedCheck(): Promise<TickOutcome> {
    const path = this.lockPath();
    await mkdir(join(this.deps.registry.root, this.deps.name), { recursive: true });
    let lock: RegistryLock;
    try {
      // No wait: the holder is doing this very check, and the next tick comes soon enough.
      lock = await acquireLock(path, 0, this.options.lockStaleMs);
    } catch (err) {
      const error = toDriftlineError(err);
      if (error.code !== 'REGISTRY_CONFLICT') throw error;
      return { action: 'skipped', reason: `another retrain policy instance holds ${path}: ${error.message}` };
    }
    try {
      return await this.check(lock);
    } finally {
      await lock.release();
    }
  }

  private async check(lock: RegistryLock): Promise<TickOutcome> {
    const { registry, name } = this.deps;
    const production = await registry.productionVersion(name);
    if (production === null) return { action: 'none', reason: `${name} has no production version` };
    const children = (await registry.list(name)).filter((v) => v.parent_version === production && v.stage_history.some((h) => h.actor === RETRAIN_ACTOR));
    const pending = children.filter((v) => v.stage === 'staging').sort((a, b) => b.version - a.version)[0];
    if (pending) return this.offerToGate(pending, production, lock);
    const recent = children.find((v) => this.now() - v.created_at_ms < this.options.cooldownMs);
    if (recent) return { action: 'none', reason: `v${recent.version} was trained from production v${production} less than ${this.options.cooldownMs} ms ago (cooldown)` };
    const windows = await readPolicyWindows(this.deps.clickhouse, this.deps.database, name, production, this.options.redWindows);
    const decision = decideRetrain(windows, this.options);
    if (!decision.retrain) return { action: 'none', reason: decision.reason };
    if (decision.trigger) this.deps.metrics?.triggers.inc({ reason: decision.trigger });
    return this.train(production, decision.reason, lock);
  }

  private async offerToGate(candidate: ModelVersionRecord, production: number, lock: RegistryLock): Promise<TickOutcome> {
    if (!this.options.autoPromote) return { action: 'waiting', version: candidate.version, reason: `candidate v${candidate.version} is staging; promotion is manual (driftline models promote --gate shadow)` };
    await lock.assertHeld();
    try {
      const { decision } = await promoteWithShadowGate(
        this.deps.registry,
        clickhouseShadowWindows(this.deps.clickhouse, this.deps.database),
        this.deps.name,
        candidate.version,
        // Forced past the registry's held-out gate, which compares each version on its own hold-out: the candidate's
        // holds the shifted recent reviews production never faced. The like-for-like comparisons are the policy's
        // (same fixed hold-out, same recent sample: metrics.comparison) and the shadow gate's (the same live windows).
        { actor: RETRAIN_ACTOR, reason: `retrain policy: candidate from production v${production}`, force: true },
        this.deps.gate,
      );
      this.deps.log.info({ version: candidate.version, numbers: decision.numbers }, 'retrain policy: candidate promoted by the shadow gate');
      this.deps.metrics?.gateDecisions.inc({ decision: 'promoted' });
      return { action: 'promoted', version: candidate.version, reason: decision.reason };
    } catch (err) {
      const error = toDriftlineError(err);
      if (error.code !== 'PROMOTION_REFUSED') throw error;
      this.deps.metrics?.gateDecisions.inc({ decision: 'refused' });
      return { action: 'waiting', version: candidate.version, reason: error.message };
    }
  }

  private async train(production: number, why: string, lock: RegistryLock): Promise<TickOutcome> {
    const { registry, clickhouse, database, name, log } = this.deps;
    const started = performance.now();
    const holdout = this.deps.holdout ?? 0.2;
    const recent = await readRecentSample(clickhouse, database, name, production, this.options.sampleWindows);
    if (recent.length < this.options.minSample) return { action: 'none', reason: `${why}, but only ${recent.length} recent labelled reviews (DRIFTLINE_RETRAIN_MIN_SAMPLE ${this.options.minSample})` };
    const reference = await this.deps.reference();
    const recentIds = new Set(recent.map((r) => r.review_id));
    const rows = [...reference.filter((r) => !recentIds.has(r.review_id)), ...recent];
    // The same hash split runTrainingJob makes: these rows are never trained on.
    const referenceHeld = splitByReviewId(reference, holdout, HOLDOUT_SALT).held;
    const recentHeld = splitByReviewId(recent, holdout, HOLDOUT_SALT).held;
    const recentIdsHeld = new Set(recentHeld.map((r) => r.review_id));
    const recentReference = recentHeld.length >= this.options.recentReferenceMin;
    log.info({ production, why, reference: reference.length, recent: recent.length, recentReference }, 'retrain policy: training a candidate');
    const productionRuntime = await loadModelRuntime(await registry.localVersionDir(name, production), { name, version: production });
    let report: TrainingReport;
    try {
      const productionQuality = { holdout: await quality(productionRuntime, referenceHeld), recent: await quality(productionRuntime, recentHeld) };
      report = await runTrainingJob({
        registry,
        name,
        rows,
        base: { version: production },
        holdout,
        paramDefaults: { epochs: this.options.epochs },
        compareBaseline: false,
        actor: RETRAIN_ACTOR,
        ...(recentReference ? { baselineRows: (row: LabeledReview) => recentIdsHeld.has(row.review_id) } : {}),
        progress: (line) => log.debug({ line }, 'retrain policy: training'),
        compare: async (candidate) => {
          // Called before the registration: a holder taken over while training (blocked past the lock's staleness)
          // must not register a second candidate beside the new holder's.
          await lock.assertHeld();
          const candidateQuality = { holdout: await quality(candidate, referenceHeld), recent: await quality(candidate, recentHeld) };
          const delta = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);
          return {
            trigger: why,
            productionVersion: production,
            recentSample: { rows: recent.length, heldOut: recentHeld.length, windows: this.options.sampleWindows },
            driftReference: recentReference ? 'recent hold-out' : 'every hold-out row',
            referenceHoldout: { rows: referenceHeld.length },
            production: productionQuality,
            candidate: candidateQuality,
            macroF1Gain: { holdout: delta(candidateQuality.holdout.macroF1, productionQuality.holdout.macroF1), recent: delta(candidateQuality.recent.macroF1, productionQuality.recent.macroF1) },
          };
        },
      });
    } finally {
      productionRuntime.dispose();
    }
    log.info({ version: report.version, runId: report.runId, comparison: report.comparison }, 'retrain policy: candidate registered as staging');
    this.deps.metrics?.candidatesTrained.inc();
    this.deps.metrics?.trainingSeconds.observe((performance.now() - started) / 1_000);
    return { action: 'trained', version: report.version, report, reason: why };
  }
}

/** Runs `tick` every intervalMs until stopped; a failed tick is logged and retried on the next one. */
export function startRetrainPolicy(policy: RetrainPolicy, options: Pick<RetrainPolicyOptions, 'intervalMs'>, log: Logger, onTick?: (outcome: TickOutcome) => void): { stop(): Promise<void> } {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const loop = (): void => {
    running = (async () => {
      try {
        const outcome = await policy.tick();
        onTick?.(outcome);
        // Quiet checks (nothing to do, or another instance's turn) happen every interval: debug only.
        if (outcome.action === 'none' || outcome.action === 'skipped') log.debug({ outcome }, 'retrain policy');
        else log.info({ outcome: { ...outcome, report: undefined } }, 'retrain policy');
      } catch (err) {
        log.error({ err: toDriftlineError(err).toJSON() }, 'retrain policy check failed; retried on the next tick');
      }
      if (!stopped) timer = setTimeout(loop, options.intervalMs);
    })();
  };
  loop();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/** A policy that is off refuses to start (the caller asked for a process that would do nothing). */
export function requireEnabled(options: RetrainPolicyOptions): void {
  if (!options.enabled) throw new DriftlineError('CONFIG_INVALID', 'the retrain policy is off: set DRIFTLINE_RETRAIN_POLICY=true', { field: 'DRIFTLINE_RETRAIN_POLICY' });
}
