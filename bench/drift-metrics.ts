/**
 * Drift-core benchmark (pure computation, one process):
 *   1. time to assess one window of ~40 monitored values (36 numeric with 20 quantile bins, 4
 *      categorical) + the model-level metrics: every metric, Holm correction, statuses;
 *   2. sketch add throughput (values/s) for the histogram, categorical and summary sketches;
 *   3. merge throughput (merges/s) and Redis increments round trip (toIncrements + fromHash per second).
 * Prints the figures and writes bench/results/drift-metrics.json with machine info.
 *
 *   node dist/bench/drift-metrics.js [--seconds 2]
 */
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { buildNumericBaseline, type ReferenceBaseline, type FeatureBaseline } from '../core/drift/baseline.js';
import { defaultDriftThresholds } from '../core/drift/config.js';
import { assessWindow, type WindowStates } from '../core/drift/evaluate.js';
import { BinnedHistogramSketch, type HistogramState } from '../core/sketch/histogram.js';
import { CategoricalCountSketch, type CategoricalState } from '../core/sketch/categorical.js';
import { SummarySketch, type SummaryValue } from '../core/sketch/summary.js';
import { SENTIMENTS } from '../schemas/types.js';
import { writeResult } from './lib.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
const seconds = Math.max(0.2, Number(args.seconds));

/** mulberry32: deterministic inputs. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uniform = random(42);
const normal = (): number => Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))) * Math.cos(2 * Math.PI * uniform());

/** Runs `body` repeatedly for about `seconds`; returns operations per second and mean µs per call. */
function measure(body: () => number): { perSecond: number; microsPerCall: number; calls: number; operations: number } {
  for (let i = 0; i < 3; i++) body(); // warm-up (JIT)
  let calls = 0;
  let operations = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    operations += body();
    calls++;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: operations / elapsed, microsPerCall: (elapsed * 1e6) / calls, calls, operations };
}

// ---- a baseline of 36 numeric + 4 categorical monitored values, and one window of 1,000 events
const NUMERIC = 36;
const BINS = 20;
const features: Record<string, FeatureBaseline> = {};
const numericSketches: Record<string, BinnedHistogramSketch> = {};
for (let f = 0; f < NUMERIC; f++) {
  const values = Array.from({ length: 5000 }, () => 10 * f + normal() * (1 + f / 10));
  const feature = buildNumericBaseline(values, BINS);
  numericSketches[`feature.f${f}`] = new BinnedHistogramSketch(feature.edges);
  features[`feature.f${f}`] = feature;
}
const CATEGORIES = ['Gift_Cards', 'All_Beauty', 'Magazine_Subscriptions', 'AMAZON_FASHION', 'Appliances'];
features.rating = { kind: 'categorical', categories: ['5', '4', '3', '1', '2'], counts: [3800, 530, 290, 130, 120], other: 0, total: 4870 };
features.verified = { kind: 'categorical', categories: ['true', 'false'], counts: [4000, 870], other: 0, total: 4870 };
features.category = { kind: 'categorical', categories: CATEGORIES, counts: [1000, 1000, 1000, 1000, 870], other: 0, total: 4870 };
features['prediction.sentiment'] = { kind: 'categorical', categories: ['positive', 'negative', 'neutral'], counts: [3800, 600, 470], other: 0, total: 4870 };
const baseline: ReferenceBaseline = {
  formatVersion: 1,
  modelName: 'bench',
  modelVersion: 1,
  createdAtMs: 0,
  rows: 4870,
  features,
  reference: { accuracy: 0.85, macroF1: 0.7, meanConfidence: 0.88, outlierRate: 0.01 },
};

const EVENTS = 1000;
const window: WindowStates = { numeric: {}, categorical: {} };
const histogramStates: Array<{ sketch: BinnedHistogramSketch; state: HistogramState }> = [];
for (const [name, sketch] of Object.entries(numericSketches)) {
  const f = Number(name.slice('feature.f'.length));
  const state = sketch.zero();
  for (let i = 0; i < EVENTS; i++) sketch.add(state, 10 * f + 0.2 + normal() * (1 + f / 10));
  window.numeric[name] = state;
  histogramStates.push({ sketch, state });
}
for (const name of ['rating', 'verified', 'category', 'prediction.sentiment']) {
  const feature = features[name];
  if (feature?.kind !== 'categorical') continue;
  const sketch = new CategoricalCountSketch(feature.categories);
  const state = sketch.zero();
  for (let i = 0; i < EVENTS; i++) sketch.add(state, feature.categories[Math.floor(uniform() * feature.categories.length)]!);
  window.categorical[name] = state;
}
const summarySketch = new SummarySketch();
const summaryValues: SummaryValue[] = Array.from({ length: 10_000 }, () => ({
  sentiment: SENTIMENTS[Math.floor(uniform() * 3)]!,
  confidence: 0.5 + uniform() / 2,
  outlier: uniform() < 0.02,
  rating: 1 + Math.floor(uniform() * 5),
}));
window.summary = summaryValues.slice(0, EVENTS).reduce((s, v) => summarySketch.add(s, v), summarySketch.zero());
const thresholds = defaultDriftThresholds();
const monitored = Object.keys(features).length;
const assessmentsPerWindow = assessWindow(baseline, window, thresholds).length;

const windowTiming = measure(() => {
  assessWindow(baseline, window, thresholds);
  return 1;
});

// ---- sketch add throughput
const [f0] = histogramStates;
if (!f0) throw new Error('no numeric feature to measure');
const { sketch: histogram, state: f0State } = f0;
const numericInput = Float64Array.from({ length: 100_000 }, () => normal());
const histogramAdd = measure(() => {
  const state = histogram.zero();
  for (let i = 0; i < numericInput.length; i++) histogram.add(state, numericInput[i]!);
  return numericInput.length;
});
const categorical = new CategoricalCountSketch(CATEGORIES);
const categoricalInput = Array.from({ length: 100_000 }, () => CATEGORIES[Math.floor(uniform() * CATEGORIES.length)]!);
const categoricalAdd = measure(() => {
  const state = categorical.zero();
  for (const value of categoricalInput) categorical.add(state, value);
  return categoricalInput.length;
});
const summaryAdd = measure(() => {
  const state = summarySketch.zero();
  for (const value of summaryValues) summarySketch.add(state, value);
  return summaryValues.length;
});

// ---- merge throughput and Redis increments round trip
const histogramMerge = measure(() => {
  let merged = histogram.zero();
  for (let i = 0; i < 1000; i++) merged = histogram.merge(merged, f0State);
  return 1000;
});
const categoryState = window.categorical.category as CategoricalState;
const categoricalMerge = measure(() => {
  let merged = categorical.zero();
  for (let i = 0; i < 1000; i++) merged = categorical.merge(merged, categoryState);
  return 1000;
});
const summaryMerge = measure(() => {
  let merged = summarySketch.zero();
  for (let i = 0; i < 1000; i++) merged = summarySketch.merge(merged, window.summary ?? summarySketch.zero());
  return 1000;
});
const incrementsRoundTrip = measure(() => {
  for (const { sketch, state } of histogramStates) {
    const increments = sketch.toIncrements(state);
    const hash: Record<string, string> = {};
    for (const map of [increments.ints, increments.floats, increments.mins, increments.maxes]) for (const [k, v] of Object.entries(map)) hash[k] = String(v);
    sketch.fromHash(hash);
  }
  return histogramStates.length;
});

const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
const results = {
  name: 'drift-metrics',
  generatedAt: new Date().toISOString(),
  secondsPerMeasurement: seconds,
  machine: {
    os: `${osType()} ${release()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGb: round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
    note: 'shared 2-core machine; other processes were running',
  },
  window: {
    monitoredValues: monitored,
    numeric: NUMERIC,
    categorical: monitored - NUMERIC,
    binsPerNumeric: BINS,
    eventsPerWindow: EVENTS,
    assessmentsPerWindow,
    microsPerWindow: round(windowTiming.microsPerCall),
    windowsPerSecond: round(windowTiming.perSecond),
  },
  addValuesPerSecond: {
    histogram20Bins: Math.round(histogramAdd.perSecond),
    categorical5: Math.round(categoricalAdd.perSecond),
    summary: Math.round(summaryAdd.perSecond),
  },
  mergesPerSecond: {
    histogram20Bins: Math.round(histogramMerge.perSecond),
    categorical5: Math.round(categoricalMerge.perSecond),
    summary: Math.round(summaryMerge.perSecond),
  },
  redisIncrementsRoundTripsPerSecond: Math.round(incrementsRoundTrip.perSecond),
};

console.log(`drift window (${monitored} monitored values, ${assessmentsPerWindow} metric assessments): ${results.window.microsPerWindow} µs/window (${results.window.windowsPerSecond} windows/s)`);
console.log(`sketch add: histogram ${results.addValuesPerSecond.histogram20Bins.toLocaleString('en')} values/s, categorical ${results.addValuesPerSecond.categorical5.toLocaleString('en')} values/s, summary ${results.addValuesPerSecond.summary.toLocaleString('en')} values/s`);
console.log(`merge: histogram ${results.mergesPerSecond.histogram20Bins.toLocaleString('en')}/s, categorical ${results.mergesPerSecond.categorical5.toLocaleString('en')}/s, summary ${results.mergesPerSecond.summary.toLocaleString('en')}/s`);
console.log(`Redis increments round trip (toIncrements + fromHash, 20-bin histogram): ${results.redisIncrementsRoundTripsPerSecond.toLocaleString('en')}/s`);
writeResult('drift-metrics', results);
console.log(`wrote bench/results/drift-metrics.json`);
