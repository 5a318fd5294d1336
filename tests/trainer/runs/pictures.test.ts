/** The run pictures: well-formed SVG (awkward labels escaped), PNG rendered from it with the right size. */
import { describe, expect, it } from 'vitest';
import { calibrationReport } from '../../../trainer/runs/calibration.js';
import { svgToPng } from '../../../trainer/runs/png.js';
import { confusionMatrixSvg, escapeXml, reliabilitySvg } from '../../../trainer/runs/svg.js';
import type { Prediction } from '../../../core/model/types.js';
import { SENTIMENTS, type Sentiment } from '../../../schemas/types.js';
import { PNG_SIGNATURE, assertWellFormedXml, pngSize } from './support.js';

function prediction(sentiment: Sentiment, confidence: number): Prediction {
  const rest = (1 - confidence) / 2;
  const probabilities = Object.fromEntries(SENTIMENTS.map((s) => [s, s === sentiment ? confidence : rest])) as Record<Sentiment, number>;
  return { review_id: 'r', sentiment, probabilities, confidence, category: null, categoryConfidence: null, outlierScore: 0, outlierFlag: false, shiftScore: 0, ratingTextDisagreement: false, features: {} };
}

const svgWidth = (svg: string): number => Number(/<svg[^>]* width="(\d+)"/.exec(svg)?.[1]);
const svgHeight = (svg: string): number => Number(/<svg[^>]* height="(\d+)"/.exec(svg)?.[1]);

describe('run pictures', () => {
  const awkward = ['Home & Kitchen', '<script>alert(1)</script>', 'say "hi"', "it's", 'a-very-long-category-name-that-goes-on-and-on'];
  const matrix = awkward.map((_, i) => awkward.map((__, j) => (i === j ? 20 : i + j)));

  it('draws a confusion matrix as well-formed SVG with every label escaped and every count written', () => {
    const svg = confusionMatrixSvg({ title: 'Category confusion: tiny v2 & friends', classes: awkward, matrix });
    assertWellFormedXml(svg);
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('Home &amp; Kitchen');
    for (const row of matrix) for (const count of row) expect(svg).toContain(`>${count}</text>`);
    // Three classes: counts and row shares (the diagonal 20 of 20 + 1 + 2 = 87%).
    const small = confusionMatrixSvg({ title: 'Sentiment', classes: [...SENTIMENTS], matrix: [[20, 1, 2], [0, 5, 5], [1, 1, 30]] });
    assertWellFormedXml(small);
    expect(small).toContain('>87%</text>');
  });

  it('checks its own well-formedness checker on broken documents', () => {
    expect(() => assertWellFormedXml('<svg><g></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg><text>a & b</text></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg x=1></svg>')).toThrow();
    expect(() => assertWellFormedXml('<svg/><svg/>')).toThrow();
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });

  it('draws a reliability diagram with a bar per non-empty bin and the calibration numbers', () => {
    const predictions = [prediction('positive', 0.95), prediction('positive', 0.92), prediction('negative', 0.55), prediction('neutral', 0.45)];
    const calibration = calibrationReport(predictions, [2, 0, 0, 1]);
    const svg = reliabilitySvg({ title: 'Sentiment calibration: <tiny>', calibration });
    assertWellFormedXml(svg);
    expect(svg).toContain(`ECE ${calibration.ece.toFixed(3)}`);
    expect(svg).toContain('&lt;tiny&gt;');
    // One accuracy bar per non-empty bin with right answers: the 0.9 bin (1 of 2) and the 0.5 and 0.4 bins (1 of 1 each).
    expect(svg.match(/fill="#1f5fa8" fill-opacity="0.75"/g)?.length).toBe(3 + 1); // + the legend swatch
  });

  it('renders the SVG to a PNG of the same size', async () => {
    const svg = confusionMatrixSvg({ title: 'Sentiment', classes: [...SENTIMENTS], matrix: [[20, 1, 2], [0, 5, 5], [1, 1, 30]] });
    const result = await svgToPng(svg);
    if (!result.ok) throw new Error(result.reason);
    expect([...result.png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(result.png)).toEqual({ width: svgWidth(svg), height: svgHeight(svg) });
    expect(result.png.length).toBeGreaterThan(2_000);
  });
});
