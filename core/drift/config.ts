/**
 * Drift thresholds and rules, from DRIFTLINE_DRIFT_* environment variables, optionally overridden by a
 * JSON file (DRIFTLINE_DRIFT_THRESHOLDS_FILE) that may also set per-feature thresholds:
 *
 *   { "metrics": { "psi": { "amber": 0.1, "red": 0.25 } }, "outlierRatio": { "amber": 2, "red": 4 },
 *     "alpha": 0.01, "pAdjust": "holm", "gateOnTest": true, "minSamples": 200, "hysteresisWindows": 2,
 *     "features": { "feature.text_length": { "psi": { "amber": 0.2, "red": 0.4 } } } }
 *
 * Every field of the file is optional; what it leaves out keeps the environment's value.
 */
import { readFileSync } from 'node:fs';
import { defineSettings, setting } from '../config.js';
import { DriftlineError } from '../errors.js';

export const STATUS_METRICS = [
  'psi',
  'ks',
  'js_distance',
  'wasserstein',
  'chi_square',
  'kl_divergence',
  'unseen_rate',
  'prediction_drift',
  'confidence_drop',
  'outlier_rate',
  'accuracy',
  'macro_f1',
  'embedding_mmd',
] as const;
export type StatusMetricName = (typeof STATUS_METRICS)[number];

export interface Threshold {
  amber: number;
  red: number;
}

export const P_ADJUST_METHODS = ['holm', 'bonferroni', 'none'] as const;
export type PAdjustMethod = (typeof P_ADJUST_METHODS)[number];

export interface DriftThresholds {
  /** Effect-size thresholds per metric (see MetricResult.effect and the table in docs/drift.md). */
  metrics: Record<StatusMetricName, Threshold>;
  /** Outlier rate relative to the reference rate (multipliers); the absolute `metrics.outlier_rate` is a floor. */
  outlierRatio: Threshold;
  /** KS and chi-square also need an adjusted p-value below alpha before they can turn amber/red. */
  alpha: number;
  pAdjust: PAdjustMethod;
  /** PSI, JS, Wasserstein and KL also need the feature's KS / chi-square adjusted p < alpha to leave green. */
  gateOnTest: boolean;
  /** Fewer current (or reference) values than this: status green, flagged insufficient. */
  minSamples: number;
  /** Consecutive windows of a new raw status before the reported status follows. */
  hysteresisWindows: number;
  /** Per-feature overrides of `metrics`. */
  features: Record<string, Partial<Record<StatusMetricName, Threshold>>>;
}

export const driftSettings = defineSettings('drift', {
  psiAmber: setting({ env: 'DRIFTLINE_DRIFT_PSI_AMBER', kind: 'number', default: 0.1, min: 0, description: 'Population stability index: amber at or above this.' }),
  psiRed: setting({ env: 'DRIFTLINE_DRIFT_PSI_RED', kind: 'number', default: 0.25, min: 0, description: 'Population stability index: red at or above this.' }),
  ksAmber: setting({ env: 'DRIFTLINE_DRIFT_KS_AMBER', kind: 'number', default: 0.1, min: 0, description: 'Kolmogorov-Smirnov statistic D (also needs adjusted p < alpha): amber at or above this.' }),
  ksRed: setting({ env: 'DRIFTLINE_DRIFT_KS_RED', kind: 'number', default: 0.2, min: 0, description: 'Kolmogorov-Smirnov statistic D (also needs adjusted p < alpha): red at or above this.' }),
  jsAmber: setting({ env: 'DRIFTLINE_DRIFT_JS_AMBER', kind: 'number', default: 0.1, min: 0, description: 'Jensen-Shannon distance (base 2): amber at or above this.' }),
  jsRed: setting({ env: 'DRIFTLINE_DRIFT_JS_RED', kind: 'number', default: 0.2, min: 0, description: 'Jensen-Shannon distance (base 2): red at or above this.' }),
  wassersteinAmber: setting({ env: 'DRIFTLINE_DRIFT_WASSERSTEIN_AMBER', kind: 'number', default: 0.1, min: 0, description: 'Wasserstein-1 distance divided by the reference standard deviation: amber at or above this.' }),
  wassersteinRed: setting({ env: 'DRIFTLINE_DRIFT_WASSERSTEIN_RED', kind: 'number', default: 0.25, min: 0, description: 'Wasserstein-1 distance divided by the reference standard deviation: red at or above this.' }),
  cramersVAmber: setting({ env: 'DRIFTLINE_DRIFT_CRAMERS_V_AMBER', kind: 'number', default: 0.1, min: 0, description: 'Chi-square test\'s Cramér\'s V (also needs adjusted p < alpha): amber at or above this.' }),
  cramersVRed: setting({ env: 'DRIFTLINE_DRIFT_CRAMERS_V_RED', kind: 'number', default: 0.2, min: 0, description: 'Chi-square test\'s Cramér\'s V (also needs adjusted p < alpha): red at or above this.' }),
  klAmber: setting({ env: 'DRIFTLINE_DRIFT_KL_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Kullback-Leibler divergence of the current bins from the reference (nats, shares smoothed by 1e-4): amber at or above this.' }),
  klRed: setting({ env: 'DRIFTLINE_DRIFT_KL_RED', kind: 'number', default: 0.125, min: 0, description: 'Kullback-Leibler divergence of the current bins from the reference (nats, shares smoothed by 1e-4): red at or above this.' }),
  unseenRateAmber: setting({ env: 'DRIFTLINE_DRIFT_UNSEEN_RATE_AMBER', kind: 'number', default: 0.01, min: 0, description: 'Share of current values in categories the reference never had: amber at or above this.' }),
  unseenRateRed: setting({ env: 'DRIFTLINE_DRIFT_UNSEEN_RATE_RED', kind: 'number', default: 0.05, min: 0, description: 'Share of current values in categories the reference never had: red at or above this.' }),
  predictionDriftAmber: setting({ env: 'DRIFTLINE_DRIFT_PREDICTION_DRIFT_AMBER', kind: 'number', default: 0.1, min: 0, description: 'JS distance of reference vs current predicted-class mix: amber at or above this.' }),
  predictionDriftRed: setting({ env: 'DRIFTLINE_DRIFT_PREDICTION_DRIFT_RED', kind: 'number', default: 0.2, min: 0, description: 'JS distance of reference vs current predicted-class mix: red at or above this.' }),
  confidenceDropAmber: setting({ env: 'DRIFTLINE_DRIFT_CONFIDENCE_DROP_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Reference mean confidence minus current mean confidence: amber at or above this.' }),
  confidenceDropRed: setting({ env: 'DRIFTLINE_DRIFT_CONFIDENCE_DROP_RED', kind: 'number', default: 0.1, min: 0, description: 'Reference mean confidence minus current mean confidence: red at or above this.' }),
  outlierRateAmber: setting({ env: 'DRIFTLINE_DRIFT_OUTLIER_RATE_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Outlier rate, absolute floor of the outlier thresholds: amber at or above this.' }),
  outlierRateRed: setting({ env: 'DRIFTLINE_DRIFT_OUTLIER_RATE_RED', kind: 'number', default: 0.1, min: 0, description: 'Outlier rate, absolute floor of the outlier thresholds: red at or above this.' }),
  outlierRatioAmber: setting({ env: 'DRIFTLINE_DRIFT_OUTLIER_RATIO_AMBER', kind: 'number', default: 2, min: 0, description: 'Outlier rate as a multiple of the reference outlier rate: amber at or above this.' }),
  outlierRatioRed: setting({ env: 'DRIFTLINE_DRIFT_OUTLIER_RATIO_RED', kind: 'number', default: 4, min: 0, description: 'Outlier rate as a multiple of the reference outlier rate: red at or above this.' }),
  accuracyDropAmber: setting({ env: 'DRIFTLINE_DRIFT_ACCURACY_DROP_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Reference accuracy minus live accuracy (rating-derived labels): amber at or above this.' }),
  accuracyDropRed: setting({ env: 'DRIFTLINE_DRIFT_ACCURACY_DROP_RED', kind: 'number', default: 0.1, min: 0, description: 'Reference accuracy minus live accuracy (rating-derived labels): red at or above this.' }),
  macroF1DropAmber: setting({ env: 'DRIFTLINE_DRIFT_MACRO_F1_DROP_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Reference macro-F1 minus live macro-F1 (rating-derived labels): amber at or above this.' }),
  macroF1DropRed: setting({ env: 'DRIFTLINE_DRIFT_MACRO_F1_DROP_RED', kind: 'number', default: 0.1, min: 0, description: 'Reference macro-F1 minus live macro-F1 (rating-derived labels): red at or above this.' }),
  embeddingMmdAmber: setting({ env: 'DRIFTLINE_DRIFT_EMBEDDING_MMD_AMBER', kind: 'number', default: 0.05, min: 0, description: 'Embedding drift: maximum mean discrepancy of the model\'s review representation, sampling noise removed (also needs adjusted p < alpha): amber at or above this.' }),
  embeddingMmdRed: setting({ env: 'DRIFTLINE_DRIFT_EMBEDDING_MMD_RED', kind: 'number', default: 0.1, min: 0, description: 'Embedding drift: maximum mean discrepancy of the model\'s review representation, sampling noise removed (also needs adjusted p < alpha): red at or above this.' }),
  alpha: setting({ env: 'DRIFTLINE_DRIFT_ALPHA', kind: 'number', default: 0.01, min: 0, max: 1, description: 'Significance level for KS / chi-square after multiple-testing correction.' }),
  pAdjust: setting({ env: 'DRIFTLINE_DRIFT_P_ADJUST', kind: 'string', default: 'holm', choices: P_ADJUST_METHODS, description: 'Multiple-testing correction over the tests of one window: holm, bonferroni or none.' }),
  gateOnTest: setting({ env: 'DRIFTLINE_DRIFT_GATE_ON_TEST', kind: 'boolean', default: true, description: "PSI, JS distance, Wasserstein and KL divergence turn amber/red only when the same feature's KS / chi-square test is significant too (adjusted p < alpha)." }),
  minSamples: setting({ env: 'DRIFTLINE_DRIFT_MIN_SAMPLES', kind: 'int', default: 200, min: 1, description: 'Fewest values in a window (and in the reference) for a status other than green/insufficient.' }),
  hysteresisWindows: setting({ env: 'DRIFTLINE_DRIFT_HYSTERESIS_WINDOWS', kind: 'int', default: 2, min: 1, description: 'Consecutive windows of a new raw status before the reported status changes.' }),
  thresholdsFile: setting({ env: 'DRIFTLINE_DRIFT_THRESHOLDS_FILE', kind: 'string', default: '', description: 'JSON file overriding the thresholds above, optionally per feature.' }),
});

type DriftSettingValues = ReturnType<typeof driftSettings.load>;

function fromSettings(s: DriftSettingValues): DriftThresholds {
  const t = (amber: number, red: number): Threshold => ({ amber, red });
  return {
    metrics: {
      psi: t(s.psiAmber, s.psiRed),
      ks: t(s.ksAmber, s.ksRed),
      js_distance: t(s.jsAmber, s.jsRed),
      wasserstein: t(s.wassersteinAmber, s.wassersteinRed),
      chi_square: t(s.cramersVAmber, s.cramersVRed),
      kl_divergence: t(s.klAmber, s.klRed),
      unseen_rate: t(s.unseenRateAmber, s.unseenRateRed),
      prediction_drift: t(s.predictionDriftAmber, s.predictionDriftRed),
      confidence_drop: t(s.confidenceDropAmber, s.confidenceDropRed),
      outlier_rate: t(s.outlierRateAmber, s.outlierRateRed),
      accuracy: t(s.accuracyDropAmber, s.accuracyDropRed),
      macro_f1: t(s.macroF1DropAmber, s.macroF1DropRed),
      embedding_mmd: t(s.embeddingMmdAmber, s.embeddingMmdRed),
    },
    outlierRatio: t(s.outlierRatioAmber, s.outlierRatioRed),
    alpha: s.alpha,
    pAdjust: s.pAdjust,
    gateOnTest: s.gateOnTest,
    minSamples: s.minSamples,
    hysteresisWindows: s.hysteresisWindows,
    features: {},
  };
}

/** The defaults, without looking at the environment (tests, the compare tool's baseline). */
export function defaultDriftThresholds(): DriftThresholds {
  return fromSettings(driftSettings.load({}));
}

/** Thresholds from the environment, then the JSON file if DRIFTLINE_DRIFT_THRESHOLDS_FILE names one. */
export function loadDriftThresholds(env: NodeJS.ProcessEnv = process.env): DriftThresholds {
  const settings = driftSettings.load(env);
  const base = fromSettings(settings);
  checkThresholds(base, 'environment');
  if (!settings.thresholdsFile) return base;
  let text: string;
  try {
    text = readFileSync(settings.thresholdsFile, 'utf8');
  } catch (cause) {
    throw new DriftlineError('CONFIG_INVALID', `DRIFTLINE_DRIFT_THRESHOLDS_FILE: cannot read ${settings.thresholdsFile}`, { cause, field: 'DRIFTLINE_DRIFT_THRESHOLDS_FILE' });
  }
  return applyThresholdsJson(base, text, settings.thresholdsFile);
}

function invalid(source: string, message: string): DriftlineError {
  return new DriftlineError('CONFIG_INVALID', `drift thresholds (${source}): ${message}`, { field: 'DRIFTLINE_DRIFT_THRESHOLDS_FILE' });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseThreshold(value: unknown, where: string, source: string, fallback?: Threshold): Threshold {
  if (!isObject(value)) throw invalid(source, `${where} must be an object {amber, red}`);
  const amber = value.amber ?? fallback?.amber;
  const red = value.red ?? fallback?.red;
  if (typeof amber !== 'number' || typeof red !== 'number' || !Number.isFinite(amber) || !Number.isFinite(red) || amber < 0 || red < amber) {
    throw invalid(source, `${where} needs numbers 0 <= amber <= red`);
  }
  return { amber, red };
}

function parseMetricMap(value: unknown, where: string, source: string, fallback: Partial<Record<StatusMetricName, Threshold>>): Partial<Record<StatusMetricName, Threshold>> {
  if (!isObject(value)) throw invalid(source, `${where} must be an object`);
  const out: Partial<Record<StatusMetricName, Threshold>> = {};
  for (const [name, threshold] of Object.entries(value)) {
    if (!(STATUS_METRICS as readonly string[]).includes(name)) throw invalid(source, `${where}.${name}: unknown metric (known: ${STATUS_METRICS.join(', ')})`);
    const metric = name as StatusMetricName;
    out[metric] = parseThreshold(threshold, `${where}.${name}`, source, fallback[metric]);
  }
  return out;
}

/** Applies a thresholds JSON document on top of `base`; throws CONFIG_INVALID naming the bad entry. */
export function applyThresholdsJson(base: DriftThresholds, text: string, source = 'json'): DriftThresholds {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new DriftlineError('CONFIG_INVALID', `drift thresholds (${source}): not JSON`, { cause, field: 'DRIFTLINE_DRIFT_THRESHOLDS_FILE' });
  }
  if (!isObject(doc)) throw invalid(source, 'top level must be an object');
  const known = new Set(['metrics', 'outlierRatio', 'alpha', 'pAdjust', 'gateOnTest', 'minSamples', 'hysteresisWindows', 'features']);
  const unknownKeys = Object.keys(doc).filter((key) => !known.has(key));
  if (unknownKeys.length > 0) throw invalid(source, `unknown keys ${unknownKeys.join(', ')}`);
  const out: DriftThresholds = { ...base, metrics: { ...base.metrics }, features: { ...base.features } };
  if (doc.metrics !== undefined) Object.assign(out.metrics, parseMetricMap(doc.metrics, 'metrics', source, base.metrics));
  if (doc.outlierRatio !== undefined) out.outlierRatio = parseThreshold(doc.outlierRatio, 'outlierRatio', source, base.outlierRatio);
  if (doc.alpha !== undefined) {
    if (typeof doc.alpha !== 'number' || !(doc.alpha > 0 && doc.alpha <= 1)) throw invalid(source, 'alpha must be a number in (0, 1]');
    out.alpha = doc.alpha;
  }
  if (doc.pAdjust !== undefined) {
    if (typeof doc.pAdjust !== 'string' || !(P_ADJUST_METHODS as readonly string[]).includes(doc.pAdjust)) throw invalid(source, `pAdjust must be one of ${P_ADJUST_METHODS.join(', ')}`);
    out.pAdjust = doc.pAdjust as PAdjustMethod;
  }
  if (doc.gateOnTest !== undefined) {
    if (typeof doc.gateOnTest !== 'boolean') throw invalid(source, 'gateOnTest must be true or false');
    out.gateOnTest = doc.gateOnTest;
  }
  for (const key of ['minSamples', 'hysteresisWindows'] as const) {
    const value = doc[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalid(source, `${key} must be an integer >= 1`);
    out[key] = value;
  }
  if (doc.features !== undefined) {
    if (!isObject(doc.features)) throw invalid(source, 'features must be an object');
    for (const [feature, metrics] of Object.entries(doc.features)) {
      out.features[feature] = parseMetricMap(metrics, `features.${feature}`, source, out.metrics);
    }
  }
  return out;
}

function checkThresholds(thresholds: DriftThresholds, source: string): void {
  for (const [name, threshold] of Object.entries(thresholds.metrics)) {
    if (threshold.red < threshold.amber) throw invalid(source, `${name}: red (${threshold.red}) is below amber (${threshold.amber})`);
  }
  if (thresholds.outlierRatio.red < thresholds.outlierRatio.amber) throw invalid(source, 'outlier ratio: red is below amber');
}

/** The threshold of one metric for one feature (per-feature override first). */
export function thresholdFor(thresholds: DriftThresholds, feature: string, metric: StatusMetricName): Threshold {
  return thresholds.features[feature]?.[metric] ?? thresholds.metrics[metric];
}
