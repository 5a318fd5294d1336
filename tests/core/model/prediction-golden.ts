/**
 * The inputs and file format of the prediction golden (tests/core/model/golden/): what the stream model's
 * runtime predicted for ~200 shipped reviews and a few hand-made edge cases, recorded once by the code
 * before a performance change, so the changed code can be held to exactly the same Predictions (bit for
 * bit: JSON keeps every double). Shared by the recorder (fixtures/record-prediction-golden.ts) and the test
 * (prediction-golden.test.ts) so both score the very same reviews the same way.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ARTIFACT_FILES, TEXT_ANOMALY_FILE } from '../../../core/model/artifacts.js';
import { CATEGORY_WIDE_FILE } from '../../../core/model/category-wide.js';
import { seededRandom, shuffledIndices } from '../../../core/model/prng.js';
import type { ModelRuntime, Prediction } from '../../../core/model/types.js';
import { repoPath, SHIPPED_REVIEWS } from '../../../core/paths.js';
import type { ReviewInput } from '../../../core/review.js';

export const GOLDEN_FILE = repoPath('tests', 'core', 'model', 'golden', 'default-model-predictions.json.gz');
export const GOLDEN_MODEL_DIR = repoPath('models', 'default');

export interface PredictionGolden {
  /** Which code produced it (a commit before the change the golden guards). */
  recordedBy: string;
  /** sha256 over the model files the runtime reads: the golden belongs to this model only. */
  modelDigest: string;
  /** One scoring call per batch, in order; the last batch with options.sentences. */
  batches: Array<{ sentences: boolean; predictions: Prediction[] }>;
}

/** sha256 of the model version's files (name and bytes of each, in a fixed order). */
export function modelDigest(dir: string): string {
  const hash = createHash('sha256');
  for (const file of [...ARTIFACT_FILES, TEXT_ANOMALY_FILE, 'sentences/model.json', 'sentences/weights.bin', CATEGORY_WIDE_FILE]) {
    const path = join(dir, file);
    if (!existsSync(path)) continue;
    hash.update(`${file}\n`);
    hash.update(readFileSync(path));
  }
  return hash.digest('hex');
}

/** Texts the shipped data has few of: the featurizer's and text-anomaly pass's unusual branches. */
const EDGE_CASES: ReviewInput[] = [
  { review_id: 'edge-empty', text: '', title: null, rating: 3 },
  { review_id: 'edge-bangs', text: 'WOW!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!! really??? ?!', title: '!!!', rating: 5, helpful_votes: 0, verified: true },
  { review_id: 'edge-html', text: 'Works &amp; looks <b>great</b> &quot;really&quot; &lt;3 &nbsp; see https://example.com/x?y=1 or www.example.org', title: 'ok &amp; fine', rating: 4 },
  { review_id: 'edge-unicode', text: 'Café crème — très bon ! Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ, ﬁne ligature, naïve résumé 😀👍 and 中文评论很好', title: 'Ünïcödé', rating: 5, helpful_votes: 3, verified: false },
  { review_id: 'edge-apostrophes', text: "don't won’t it's rock'n'roll '' 'quoted' o'clock 90's ’tis", title: "can't", rating: 2 },
  { review_id: 'edge-digits', text: '12345 678.90 3/4 inch, 2x4, 1st 2nd 3rd 100% A+++ $$$ ### *** ___', title: '10/10', rating: 5, helpful_votes: 1e9, verified: null },
  { review_id: 'edge-gibberish', text: 'asdkjh qwpoeiru zxmcnv lkjhg poiuyt mnbvcx qazwsx edcrfv tgbyhn ujmik,ol.p;/', title: 'xkcd', rating: 1 },
  { review_id: 'edge-repeat', text: 'buy this now '.repeat(60), title: 'buy', rating: 5 },
  { review_id: 'edge-long', text: 'This product is quite good and I used it every day for months without trouble. '.repeat(40), title: 'long', rating: 4, helpful_votes: -5, verified: true },
  { review_id: 'edge-whitespace', text: '  \n\t  spaced \r\n out\n\n\ntext\t\t ', title: '   ', rating: 3 },
  { review_id: 'edge-code', text: 'function f(x) { return x * 2; } // {"json": [1, 2, 3]} <script>alert(1)</script>', title: null, rating: 1 },
  { review_id: 'edge-lone-surrogate', text: 'broken \ud800 half and \udc00 another \ufffd replacement', title: 'bad \ud83d', rating: 2 },
];

/** The golden's batches: 200 shipped reviews (a seeded mix of every source) and the edge cases; the last 40 with sentences. */
export function goldenBatches(): Array<{ sentences: boolean; reviews: ReviewInput[] }> {
  const lines = gunzipSync(readFileSync(repoPath(SHIPPED_REVIEWS))).toString('utf8').split('\n').filter((line) => line.trim() !== '');
  const order = shuffledIndices(lines.length, seededRandom(20261207));
  const shipped: ReviewInput[] = Array.from(order.subarray(0, 200), (i) => {
    const row = JSON.parse(lines[i]!) as ReviewInput;
    return { review_id: row.review_id, text: row.text, title: row.title ?? null, rating: row.rating ?? null, helpful_votes: row.helpful_votes ?? null, verified: row.verified ?? null };
  });
  return [
    { sentences: false, reviews: [...shipped.slice(0, 160), ...EDGE_CASES] },
    // A batch of one: the paths with a single row.
    { sentences: false, reviews: [shipped[160]!] },
    { sentences: true, reviews: [...shipped.slice(161, 200), ...EDGE_CASES.slice(0, 4)] },
  ];
}

export async function scoreGoldenBatches(runtime: ModelRuntime): Promise<PredictionGolden['batches']> {
  const out: PredictionGolden['batches'] = [];
  for (const batch of goldenBatches()) out.push({ sentences: batch.sentences, predictions: await runtime.score(batch.reviews, { sentences: batch.sentences }) });
  return out;
}
