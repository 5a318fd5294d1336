/**
 * KS and Wasserstein from the sketches against the exact two-sample values on the raw numbers, for every
 * numeric value the aggregator monitors (features, helpful votes, the model's confidence / outlier / shift
 * scores), on real data: the shipped default model's reference (models/default/baseline.json, rebuilt here
 * from the raw held-out values it summarises) and its per-category references, against the shipped sample
 * scored by that model — all of it, and each category alone (real differences in text length, ratios and
 * scores); and a dataset comparison between two categories of the sample. Bounds: KS within 0.01, W1
 * within 2 % of the exact value (docs/drift.md, "Precision").
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildNumericBaseline, monitoredValues, type MonitoredInput, type NumericBaseline, type ReferenceBaseline } from '../../../core/drift/baseline.js';
import { histogramDistribution, histogramSketchFor, numericBaselineDistribution } from '../../../core/drift/distribution.js';
import { ksMetric, wassersteinMetric } from '../../../core/drift/metrics.js';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { repoPath, SHIPPED_REVIEWS } from '../../../core/paths.js';
import { loadLabeledJsonl } from '../../../trainer/data.js';
import { monitoredInput, scoreAll } from '../../../trainer/evaluate.js';
import { heldOutMonitoredInputs } from '../../../trainer/held-out-inputs.js';

const MODEL_DIR = repoPath('models/default');
const SAMPLE = repoPath('data/sample/reviews-sample.jsonl');
const KS_BOUND = 0.01;
const WASSERSTEIN_RELATIVE_BOUND = 0.02;

/** Exact two-sample KS: sup |F - G| over all values, walking both sorted arrays (ties advance together). */
export function exactKs(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < a.length || j < b.length) {
    const x = Math.min(i < a.length ? a[i]! : Infinity, j < b.length ? b[j]! : Infinity);
    while (i < a.length && a[i] === x) i++;
    while (j < b.length && b[j] === x) j++;
    d = Math.max(d, Math.abs(i / a.length - j / b.length));
  }
  return d;
}

/** Exact W1 = ∫|F - G| dx: both ECDFs are step functions, constant between consecutive distinct values. */
export function exactWasserstein(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let w = 0;
  let previous = Math.min(a[0]!, b[0]!);
  while (i < a.length || j < b.length) {
    const x = Math.min(i < a.length ? a[i]! : Infinity, j < b.length ? b[j]! : Infinity);
    w += Math.abs(i / a.length - j / b.length) * (x - previous);
    previous = x;
    while (i < a.length && a[i] === x) i++;
    while (j < b.length && b[j] === x) j++;
  }
  return w;
}

function columns(inputs: readonly MonitoredInput[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const input of inputs) {
    for (const [name, value] of Object.entries(monitoredValues(input).numeric)) {
      if (!Number.isFinite(value)) continue;
      const list = out.get(name) ?? [];
      list.push(value);
      out.set(name, list);
    }
  }
  return out;
}

const sorted = (values: readonly number[]): Float64Array => Float64Array.from(values).sort();

interface Case {
  name: string;
  feature: string;
  ks: number;
  exactKs: number;
  w: number;
  exactW: number;
}

/** The metrics from the reference histogram and a sketch of the current values, beside the exact ones. */
function measure(name: string, feature: string, baseline: NumericBaseline, reference: readonly number[], current: readonly number[]): Case[] {
  // helpful_votes is null in the partial records: a category can have none.
  if (reference.length === 0 || current.length === 0) return [];
  const sketch = histogramSketchFor(baseline);
  const state = sketch.zero();
  for (const value of current) sketch.add(state, value);
  const ref = numericBaselineDistribution(baseline);
  const cur = histogramDistribution(sketch, state);
  const a = sorted(reference);
  const b = sorted(current);
  return [{ name, feature, ks: ksMetric.compute(ref, cur).value, exactKs: exactKs(a, b), w: wassersteinMetric.compute(ref, cur).value, exactW: exactWasserstein(a, b) }];
}

const cases: Case[] = [];

beforeAll(async () => {
  const baseline = JSON.parse(readFileSync(repoPath('models/default/baseline.json'), 'utf8')) as ReferenceBaseline;
  const { inputs: heldInputs } = await heldOutMonitoredInputs(MODEL_DIR, [repoPath(SHIPPED_REVIEWS)]);
  const sample = (await loadLabeledJsonl([SAMPLE])).rows;
  const runtime = await loadModelRuntime(MODEL_DIR, { name: 'reviews', version: 1 });
  const predictions = await scoreAll(runtime, sample).finally(() => runtime.dispose());
  const sampleInputs = sample.map((row, i) => monitoredInput(row, predictions[i]!));
  const reference = columns(heldInputs);
  const byCategory = (inputs: readonly MonitoredInput[], category: string) => inputs.filter((input) => input.category === category);
  const categories = [...new Set(sampleInputs.map((input) => input.category ?? ''))].filter((c) => byCategory(sampleInputs, c).length >= 100);

  const currents: Array<[string, Map<string, number[]>]> = [['sample', columns(sampleInputs)], ...categories.map((c): [string, Map<string, number[]>] => [`sample ${c}`, columns(byCategory(sampleInputs, c))])];
  for (const [feature, featureBaseline] of Object.entries(baseline.features)) {
    if (featureBaseline.kind !== 'numeric') continue;
    for (const [name, current] of currents) cases.push(...measure(`global vs ${name}`, feature, featureBaseline, reference.get(feature)!, current.get(feature) ?? []));
    // Each category's own reference (binned on the global edges) against that category's sample.
    for (const category of categories) {
      const own = baseline.segments?.[category]?.features[feature];
      if (!own || own.kind !== 'numeric' || (baseline.segments?.[category]?.rows ?? 0) < 200) continue;
      cases.push(...measure(`segment ${category}`, feature, own, columns(byCategory(heldInputs, category)).get(feature) ?? [], columns(byCategory(sampleInputs, category)).get(feature) ?? []));
    }
  }
  // A dataset comparison (driftline drift compare): one category's sample is the reference of another's.
  // The two largest (like the 375 vs 396 reviews): with a reference of n values, no bin can be finer than 1/n.
  const [first, second] = [...categories].sort((x, y) => byCategory(sampleInputs, y).length - byCategory(sampleInputs, x).length);
  const left = columns(byCategory(sampleInputs, first!));
  const right = columns(byCategory(sampleInputs, second!));
  for (const [feature, values] of left) cases.push(...measure(`compare ${first} vs ${second}`, feature, buildNumericBaseline(values), values, right.get(feature) ?? []));
}, 300_000);

describe('precision of the numeric sketches on real data', () => {
  it('covers every monitored numeric value, with real differences among the cases', () => {
    const features = new Set(cases.map((c) => c.feature));
    expect([...features].sort()).toEqual(expect.arrayContaining(['feature.text_chars', 'helpful_votes', 'prediction.confidence', 'prediction.outlier_score', 'prediction.shift_score']));
    expect(features.size).toBe(16);
    expect(cases.length).toBeGreaterThan(300);
    expect(Math.max(...cases.map((c) => c.exactKs))).toBeGreaterThan(0.2);
    if (process.env.PRECISION_REPORT) {
      const worst = [...cases].sort((a, b) => Math.abs(b.w - b.exactW) / Math.max(b.exactW, 1e-12) - Math.abs(a.w - a.exactW) / Math.max(a.exactW, 1e-12)).slice(0, 15);
      const worstKs = [...cases].sort((a, b) => Math.abs(b.ks - b.exactKs) - Math.abs(a.ks - a.exactKs)).slice(0, 8);
      const kinds = ['global', 'segment', 'compare'].map((kind) => {
        const of = cases.filter((c) => c.name.startsWith(kind));
        return { kind, cases: of.length, maxKsError: Math.max(...of.map((c) => Math.abs(c.ks - c.exactKs))), maxWRelativeError: Math.max(...of.map((c) => Math.abs(c.w - c.exactW) / Math.max(c.exactW, 1e-12))) };
      });
      console.log(JSON.stringify({ kinds, worst, worstKs }, null, 1));
    }
  });

  it(`KS is within ${KS_BOUND} of the exact two-sample statistic`, () => {
    const off = cases.filter((c) => Math.abs(c.ks - c.exactKs) > KS_BOUND);
    expect(off).toEqual([]);
  });

  it(`Wasserstein-1 is within ${WASSERSTEIN_RELATIVE_BOUND * 100} % of the exact value`, () => {
    const off = cases.filter((c) => Math.abs(c.w - c.exactW) > WASSERSTEIN_RELATIVE_BOUND * c.exactW + 1e-12);
    expect(off).toEqual([]);
  });
});
