/**
 * The retrain policy on a real registry (filesystem), embedded ClickHouse and the real trainer: production
 * (trained on the synthetic vocabulary) turns red on a stream whose sentiment words shifted; the policy
 * trains a candidate by warm start on the reference data plus the recent labelled sample in recent_reviews,
 * compares both on the fixed hold-out and the recent sample, registers it as staging with that comparison
 * (version metrics and its train_ run), waits while the promotion is manual, and with auto-promotion
 * promotes it once its shadow windows beat production's. Two instances checking at once on the same registry:
 * one trains, the other skips its check (the policy's lock). Every check is counted in the policy's metrics.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse, type ClickHouseClient } from '../../core/clickhouse.js';
import { coreSettings } from '../../core/config.js';
import { RECENT_REVIEWS_TABLE, WINDOW_SUMMARY_TABLE, driftTableMigrations } from '../../core/drift/tables.js';
import { createLogger } from '../../core/logger.js';
import { openRegistry, type ModelRegistry } from '../../core/model/registry/index.js';
import { clickhouseTime } from '../../drift-aggregator/clickhouse-writer.js';
import { runTrainingJob } from '../../trainer/pipeline.js';
import { RetrainPolicy, type TickOutcome } from '../../trainer/retrain-policy.js';
import { createRetrainPolicyMetrics } from '../../trainer/retrain-policy-metrics.js';
import { retrainPolicySettings, type RetrainPolicyOptions } from '../../trainer/config.js';
import { formatRun, formatRunList } from '../../trainer/runs/cli.js';
import { openRunStore, runsDirFor } from '../../trainer/runs/store.js';
import { TINY_PARAMS, shiftedReviews, syntheticReviews } from './fixtures.js';

const NAME = 'policy';
const DATABASE = 'policy_test';
const MINUTE = 60_000;
// Recent windows: recent_reviews keeps rows DRIFTLINE_RECENT_SAMPLE_RETENTION_DAYS after their window started.
const T0 = Math.floor(Date.now() / MINUTE) * MINUTE - 60 * MINUTE;
const REFERENCE = syntheticReviews(1_200, 21);
const RECENT = shiftedReviews(800, 22);

let root: string;
let registry: ModelRegistry;
let clickhouse: ClickHouseClient;
let production: number;
// One Prometheus registry for every policy instance of the test: the counts add up over the whole scenario.
const prometheus = new Registry();
const metrics = createRetrainPolicyMetrics(prometheus);

async function value(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  // A histogram's _count is one of the values of the histogram itself.
  const metric = (await prometheus.getMetricsAsJSON()).find((m) => m.name === name || `${m.name}_count` === name);
  const values = (metric?.values ?? []) as Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
  return values.find((v) => (v.metricName ?? metric?.name) === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

function summary(version: number, minute: number, status: string, macroF1: number) {
  return {
    window_start: clickhouseTime(T0 + minute * MINUTE), window_end: clickhouseTime(T0 + (minute + 1) * MINUTE), window_size_ms: MINUTE, model_name: NAME, model_version: version,
    segment: '__all__', events: 300, late_events: 0, outliers: 0, outlier_rate: 0, mean_confidence: 0.8, accuracy: macroF1, macro_f1: macroF1, status, state_lost: 0,
    written_at: clickhouseTime(T0 + (minute + 1) * MINUTE),
  };
}

async function insertWindows(rows: Array<ReturnType<typeof summary>>): Promise<void> {
  await clickhouse.insert({ table: `${DATABASE}.${WINDOW_SUMMARY_TABLE}`, values: rows, format: 'JSONEachRow' });
}

function policy(overrides: Partial<RetrainPolicyOptions> = {}, reference: () => Promise<typeof REFERENCE> = async () => REFERENCE): RetrainPolicy {
  const options = { ...retrainPolicySettings.load({}), enabled: true, redWindows: 3, minSample: 200, epochs: 2, ...overrides };
  return new RetrainPolicy(options, {
    registry,
    clickhouse,
    database: DATABASE,
    name: NAME,
    reference,
    log: createLogger('retrain-policy-test', 'silent'),
    gate: { windows: 3, minReviews: 500, margin: 0.01 },
    metrics,
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'driftline-retrain-'));
  registry = openRegistry(join(root, 'registry'));
  clickhouse = await createClickHouse(coreSettings.load({}, { clickhouseUrl: '', clickhousePath: join(root, 'chdb') }));
  for (const query of driftTableMigrations(DATABASE)) await clickhouse.command({ query });
  production = (await runTrainingJob({ registry, name: NAME, rows: REFERENCE, params: TINY_PARAMS, promote: true, compareBaseline: false, progress: () => {} })).version;
  // The recent sample of production's windows: the shifted reviews with their ratings, 100 per window.
  await clickhouse.insert({
    table: `${DATABASE}.${RECENT_REVIEWS_TABLE}`,
    format: 'JSONEachRow',
    values: RECENT.map((row, i) => ({
      window_start: clickhouseTime(T0 + Math.floor(i / 100) * MINUTE), window_end: clickhouseTime(T0 + (Math.floor(i / 100) + 1) * MINUTE), window_size_ms: MINUTE,
      model_name: NAME, model_version: production, segment: row.category, sample_hash: i, review_id: row.review_id, category: row.category, rating: row.rating,
      product_id: row.product_id, helpful_votes: row.helpful_votes, verified: row.verified === null || row.verified === undefined ? null : Number(row.verified),
      title: row.title, text: row.text, sentiment: 'neutral', confidence: 0.5, prob_negative: 0.25, prob_neutral: 0.5, prob_positive: 0.25, outlier_score: 0.5, outlier_flag: 0,
      event_time_ms: null, written_at: clickhouseTime(T0 + 10 * MINUTE),
    })),
  });
}, 300_000);

afterAll(async () => {
  await clickhouse?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('retrain policy', () => {
  let trained: Extract<TickOutcome, { action: 'trained' }>;

  it('does nothing while production is not red for the newest N windows', async () => {
    expect(await policy().tick()).toEqual({ action: 'none', reason: '0 windows closed, 3 needed' });
    await insertWindows([summary(production, 0, 'red', 0.4), summary(production, 1, 'green', 0.4), summary(production, 2, 'red', 0.4)]);
    expect((await policy().tick()).action).toBe('none');
    // Too small a recent sample: the trigger holds, the training waits for more reviews.
    await insertWindows([summary(production, 3, 'red', 0.4), summary(production, 4, 'red', 0.4)]);
    expect(await policy({ minSample: 5_000 }).tick()).toMatchObject({ action: 'none', reason: expect.stringContaining('only 800 recent labelled reviews') });
  });

  it('a holder whose lock was taken over while it trained registers nothing', async () => {
    await insertWindows([summary(production, 5, 'red', 0.4)]);
    const instance = policy({}, async () => {
      // Read while the check holds the lock: another instance takes it over (as after a pause past the stale age).
      await writeFile(instance.lockPath(), JSON.stringify({ pid: 1, host: 'elsewhere', token: 'new-holder', acquired_at_ms: Date.now() }));
      return REFERENCE;
    });
    await expect(instance.tick()).rejects.toMatchObject({ code: 'REGISTRY_CONFLICT' });
    expect((await registry.list(NAME)).filter((v) => v.parent_version === production)).toHaveLength(0);
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'failed' })).toBe(1);
    // The new holder's lock stayed; it goes away with its holder.
    expect(JSON.parse(await readFile(instance.lockPath(), 'utf8'))).toMatchObject({ token: 'new-holder' });
    await rm(instance.lockPath());
  });

  it('trains a warm-started staging candidate on reference + recent data, compared with production on both hold-outs; a second instance checking at once skips', async () => {
    // Two instances on the same registry check at the same moment: only the lock holder trains.
    const outcomes = await Promise.all([policy().tick(), policy().tick()]);
    expect(outcomes.map((o) => o.action).sort()).toEqual(['skipped', 'trained']);
    const outcome = outcomes.find((o) => o.action === 'trained')!;
    expect(outcome).toMatchObject({ action: 'trained', reason: 'the newest 3 windows are red' });
    trained = outcome as typeof trained;
    expect((await registry.list(NAME)).filter((v) => v.parent_version === production)).toHaveLength(1);
    expect(await value('driftline_retrain_policy_candidates_trained_total')).toBe(1);
    expect(await value('driftline_retrain_policy_training_seconds_count')).toBe(1);
    // The too-small-sample check, the taken-over one and this one: all triggered by the red rule.
    expect(await value('driftline_retrain_policy_triggers_total', { reason: 'red_windows' })).toBe(3);
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'skipped' })).toBe(1);
    const record = await registry.get(NAME, trained.version);
    expect(record).toMatchObject({ stage: 'staging', parent_version: production, parent_model: NAME });
    expect(record.stage_history[0]).toMatchObject({ action: 'register', actor: 'retrain-policy' });
    const comparison = record.metrics['comparison'] as {
      productionVersion: number;
      recentSample: { rows: number; heldOut: number };
      production: Record<'holdout' | 'recent', { rows: number; macroF1: number }>;
      candidate: Record<'holdout' | 'recent', { rows: number; macroF1: number }>;
    };
    expect(comparison.productionVersion).toBe(production);
    expect(comparison.recentSample.rows).toBe(800);
    expect(comparison.production.holdout.rows).toBe(comparison.candidate.holdout.rows);
    expect(comparison.production.recent.rows).toBe(comparison.recentSample.heldOut);
    expect(comparison.production.recent.rows).toBeGreaterThan(100);
    // The candidate learnt the shifted vocabulary from the recent sample: better on it than production.
    expect(comparison.candidate.recent.macroF1).toBeGreaterThan(comparison.production.recent.macroF1);
    // Both evaluations are in the candidate's train_ run.
    const run = await openRunStore(runsDirFor(registry.root)).get(trained.report.runId!);
    expect(run.kind).toBe('train');
    expect(run.model).toMatchObject({ version: trained.version, parentVersion: production });
    expect(run.metrics['comparison']).toEqual(comparison);
    expect(run.data.rows).toBe(REFERENCE.length + RECENT.length);
    // Why it was trained, in `driftline runs list` and `runs show` (GET /v1/runs has metrics.comparison as is).
    expect(formatRunList([run], 1).join('\n')).toContain('retrain policy: the newest 3 windows are red');
    expect(formatRun(run, '/runs').join('\n')).toContain(`retrain policy: candidate from production v${production} because the newest 3 windows are red`);
  });

  it('does not train again while the candidate is staging; waits for a manual promotion', async () => {
    expect(await policy().tick()).toMatchObject({ action: 'waiting', version: trained.version, reason: expect.stringContaining('promotion is manual') });
  });

  it('with auto-promotion: refused while the shadow windows do not beat production, promoted once they do', async () => {
    expect(await policy({ autoPromote: true }).tick()).toMatchObject({ action: 'waiting', reason: expect.stringContaining('shadow gate refused') });
    await insertWindows([6, 7, 8].flatMap((minute) => [summary(production, minute, 'red', 0.45), summary(trained.version, minute, 'green', 0.8)]));
    const promoted = await policy({ autoPromote: true }).tick();
    expect(promoted, promoted.reason).toMatchObject({ action: 'promoted', version: trained.version });
    expect(await registry.productionVersion(NAME)).toBe(trained.version);
    // The new production version's windows are green: nothing to do.
    expect(await policy({ autoPromote: true }).tick()).toMatchObject({ action: 'none', reason: expect.stringContaining('not all red') });
    expect(await value('driftline_retrain_policy_gate_decisions_total', { decision: 'refused' })).toBe(1);
    expect(await value('driftline_retrain_policy_gate_decisions_total', { decision: 'promoted' })).toBe(1);
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'promoted' })).toBe(1);
    expect(await value('driftline_retrain_policy_checks_total', { outcome: 'trained' })).toBe(1);
    // Still one candidate in all: the skipped instance never trained a second one.
    expect(await value('driftline_retrain_policy_candidates_trained_total')).toBe(1);
  });
});
