/**
 * The shadow promotion gate: a staging candidate that the scorer shadow-scored (DRIFTLINE_SHADOW=staging,
 * aggregated by DRIFTLINE_AGGREGATOR_SHADOW) may replace production only when, over the newest windows
 * both versions have live macro-F1 for, the candidate's macro-F1 beats production's by a margin on enough
 * reviews. The decision is a pure function of the windows (decideShadowGate); reading them from
 * window_summary and promoting are separate, so the decision is tested without ClickHouse.
 *
 * "Reviews" are the events of those windows (segment __all__): a window has a live macro-F1 only from the
 * reviews that carry a rating, and ratings arrive with most reviews (docs/drift.md).
 */
import type { ClickHouseClient } from '../clickhouse.js';
import { defineSettings, setting, type Settings } from '../config.js';
import { ALL_SEGMENTS, WINDOW_SIZE_SQL, WINDOW_SUMMARY_TABLE } from '../drift/tables.js';
import { DriftlineError } from '../errors.js';
import type { ModelRegistry, StageChangeOptions, StageChangeResult } from './registry/index.js';

export const shadowGateSettings = defineSettings('shadow-gate', {
  windows: setting({ env: 'DRIFTLINE_SHADOW_GATE_WINDOWS', kind: 'int', default: 10, min: 1, max: 10_000, description: 'Shadow promotion gate: how many of the newest windows that both the candidate and production have a live macro-F1 for are compared.' }),
  minReviews: setting({ env: 'DRIFTLINE_SHADOW_GATE_MIN_REVIEWS', kind: 'int', default: 1_000, min: 1, description: 'Shadow promotion gate: fewest reviews the candidate must have been shadow-scored on in those windows.' }),
  margin: setting({ env: 'DRIFTLINE_SHADOW_GATE_MARGIN', kind: 'number', default: 0.01, min: 0, max: 1, description: "Shadow promotion gate: how much the candidate's live macro-F1 must exceed production's (absolute, over those windows)." }),
});

export type ShadowGateOptions = Settings<typeof shadowGateSettings.spec>;

/** One window_summary row (segment __all__) of one version. */
export interface ShadowWindow {
  windowStart: number;
  events: number;
  macroF1: number | null;
}

export interface ShadowGateNumbers {
  candidateVersion: number;
  productionVersion: number;
  /** Windows compared (both versions have a macro-F1 there), newest first, at most options.windows. */
  windows: number;
  /** Reviews the candidate was scored on in those windows. */
  reviews: number;
  /** Events-weighted macro-F1 over those windows (null: no window to compare). */
  candidateMacroF1: number | null;
  productionMacroF1: number | null;
  margin: number;
  minReviews: number;
}

export interface ShadowGateDecision {
  promote: boolean;
  reason: string;
  numbers: ShadowGateNumbers;
}

/** Events-weighted mean of macro-F1 over windows whose weights are `events` (null when there are none). */
function weightedMacroF1(windows: ReadonlyArray<{ events: number; macroF1: number }>): number | null {
  const events = windows.reduce((sum, w) => sum + w.events, 0);
  if (events === 0) return null;
  return windows.reduce((sum, w) => sum + w.macroF1 * w.events, 0) / events;
}

const f4 = (value: number | null): string => (value === null ? 'none' : value.toFixed(4));

/**
 * Whether the candidate may be promoted, on the newest `options.windows` windows both versions have a
 * macro-F1 for. Each version's figure is its macro-F1 averaged over those windows, weighted by its events;
 * the candidate passes when it was scored on at least `minReviews` reviews there and its figure exceeds
 * production's by at least `margin` (and by something: a margin of 0 still asks for a strictly better figure).
 */
export function decideShadowGate(
  versions: { candidate: number; production: number },
  candidate: readonly ShadowWindow[],
  production: readonly ShadowWindow[],
  options: ShadowGateOptions,
): ShadowGateDecision {
  const productionByStart = new Map(production.filter((w) => w.macroF1 !== null).map((w) => [w.windowStart, w]));
  const paired = candidate
    .filter((w) => w.macroF1 !== null && productionByStart.has(w.windowStart))
    .sort((a, b) => b.windowStart - a.windowStart)
    .slice(0, options.windows);
  const candidateF1 = weightedMacroF1(paired.map((w) => ({ events: w.events, macroF1: w.macroF1! })));
  const productionF1 = weightedMacroF1(paired.map((w) => productionByStart.get(w.windowStart)!).map((w) => ({ events: w.events, macroF1: w.macroF1! })));
  const reviews = paired.reduce((sum, w) => sum + w.events, 0);
  const numbers: ShadowGateNumbers = {
    candidateVersion: versions.candidate,
    productionVersion: versions.production,
    windows: paired.length,
    reviews,
    candidateMacroF1: candidateF1,
    productionMacroF1: productionF1,
    margin: options.margin,
    minReviews: options.minReviews,
  };
  const summary = `candidate v${versions.candidate} live macro-F1 ${f4(candidateF1)} vs production v${versions.production} ${f4(productionF1)} over ${paired.length} windows, ${reviews} reviews`;
  if (candidateF1 === null || productionF1 === null) {
    return { promote: false, reason: `no window has a live macro-F1 of both candidate v${versions.candidate} and production v${versions.production} (is the scorer shadow-scoring and the aggregator aggregating the shadow topic?)`, numbers };
  }
  if (reviews < options.minReviews) return { promote: false, reason: `${summary}: fewer than the ${options.minReviews} reviews required`, numbers };
  const gain = candidateF1 - productionF1;
  if (gain <= 0 || gain < options.margin) return { promote: false, reason: `${summary}: does not beat production by the margin ${options.margin}`, numbers };
  return { promote: true, reason: `shadow gate: ${summary}, beats production by ${gain.toFixed(4)} (margin ${options.margin})`, numbers };
}

/** The windows of some versions of a model, newest first; what the gate reads. */
export type ShadowWindowReader = (modelName: string, versions: readonly number[], perVersion: number) => Promise<Map<number, ShadowWindow[]>>;

/**
 * Reads window_summary (segment __all__, FINAL: the newest row per window) for `versions`, at most
 * `perVersion` windows each, newest first, of the smallest window size these versions have rows of
 * (the base window, DRIFTLINE_WINDOW_MS; the larger sizes of DRIFTLINE_WINDOW_SIZES merge the same reviews). More than the gate's window count is read (×4) so windows one
 * version lacks do not shrink the comparison.
 */
export function clickhouseShadowWindows(clickhouse: ClickHouseClient, database: string): ShadowWindowReader {
  return async (modelName, versions, perVersion) => {
    const out = new Map<number, ShadowWindow[]>(versions.map((v) => [v, []]));
    const result = await clickhouse.query({
      query: `SELECT model_version, toUnixTimestamp64Milli(window_start) AS start, events, macro_f1
              FROM ${database}.${WINDOW_SUMMARY_TABLE} FINAL
              WHERE model_name = {model:String} AND segment = {segment:String} AND model_version IN {versions:Array(UInt32)}
                AND ${WINDOW_SIZE_SQL} = (SELECT min(${WINDOW_SIZE_SQL}) FROM ${database}.${WINDOW_SUMMARY_TABLE}
                                          WHERE model_name = {model:String} AND model_version IN {versions:Array(UInt32)})
              ORDER BY model_version, window_start DESC
              LIMIT {perVersion:UInt32} BY model_version`,
      query_params: { model: modelName, segment: ALL_SEGMENTS, versions: [...versions], perVersion },
      format: 'JSONEachRow',
    });
    const rows = (await result.json()) as Array<{ model_version: number | string; start: number | string; events: number | string; macro_f1: number | null }>;
    for (const row of rows) {
      out.get(Number(row.model_version))?.push({ windowStart: Number(row.start), events: Number(row.events), macroF1: row.macro_f1 === null ? null : Number(row.macro_f1) });
    }
    return out;
  };
}

/** How many windows per version the gate reads for `windows` compared ones. */
const READ_FACTOR = 4;

/**
 * Decides the gate for `version` of `name` against the registry's production version; throws
 * PROMOTION_REFUSED naming the numbers when it does not pass, answers the decision when it does.
 */
export async function checkShadowGate(registry: Pick<ModelRegistry, 'productionVersion' | 'get'>, readWindows: ShadowWindowReader, name: string, version: number, options: ShadowGateOptions): Promise<ShadowGateDecision> {
  const candidate = await registry.get(name, version);
  const production = await registry.productionVersion(name);
  if (production === null) throw new DriftlineError('PROMOTION_REFUSED', `shadow gate: ${name} has no production version to compare v${version} with`, { details: { name, version } });
  if (candidate.stage !== 'staging') {
    throw new DriftlineError('PROMOTION_REFUSED', `shadow gate: ${name} v${version} is ${candidate.stage}; only a staging candidate is shadow-scored`, { details: { name, version, stage: candidate.stage } });
  }
  const windows = await readWindows(name, [version, production], options.windows * READ_FACTOR);
  const decision = decideShadowGate({ candidate: version, production }, windows.get(version) ?? [], windows.get(production) ?? [], options);
  if (!decision.promote) throw new DriftlineError('PROMOTION_REFUSED', `shadow gate refused ${name} v${version}: ${decision.reason}`, { details: { ...decision.numbers } });
  return decision;
}

/** Promotes `version` only when the shadow gate passes; the stage change records the gate's numbers as its reason. */
export async function promoteWithShadowGate(
  registry: Pick<ModelRegistry, 'productionVersion' | 'get' | 'promote'>,
  readWindows: ShadowWindowReader,
  name: string,
  version: number,
  stage: StageChangeOptions,
  options: ShadowGateOptions,
): Promise<{ decision: ShadowGateDecision; result: StageChangeResult }> {
  const decision = await checkShadowGate(registry, readWindows, name, version, options);
  const reason = stage.reason ? `${stage.reason}; ${decision.reason}` : decision.reason;
  return { decision, result: await registry.promote(name, version, { ...stage, reason }) };
}
