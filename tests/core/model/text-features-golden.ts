/**
 * The text-anomaly features of the 500 sample reviews the text-anomaly tests hold out (tables fitted on
 * the other 2,500, as in text-anomaly.test.ts) and of a few hand-made texts, recorded once by the code
 * before the model-speed change (commit 2d7cb0d) into golden/text-features.json.gz; the test holds the
 * scoring pass to them bit for bit. Shared by the recorder and the test.
 */
import { readFileSync } from 'node:fs';
import { repoPath } from '../../../core/paths.js';
import { SIGNAL_COUNT, createTextAnomalyScratch, fitTextAnomalyTables, textFeatures } from '../../../core/model/text-anomaly.js';

export const TEXT_FEATURES_GOLDEN = repoPath('tests', 'core', 'model', 'golden', 'text-features.json.gz');

const EDGE_TEXTS = [
  '',
  ' ',
  'a',
  "don't won’t it's rock'n'roll '' o'clock",
  'Café crème — très bon ! Ｆｕｌｌｗｉｄｔｈ, ﬁne, naïve 😀👍 中文评论很好 \u2013\u2019\u201c\u2026',
  'WOW!!!!!!!!!!!!!!!! 12345 678.90 A+++ $$$ ### *** ___ <b>tags</b> &amp; https://x.y/z',
  '\t\tTabs\r\nand\n\nnewlines   and  spaces  ',
  'buy this now '.repeat(40),
  'x'.repeat(300),
  'lone \ud800 surrogate \udc00 and \ufffd',
];

/** [text, features x SIGNAL_COUNT (the text features first; the rest stay 0)] per input. */
export function textFeatureRows(): Array<{ text: string; features: number[] }> {
  const sample = readFileSync(repoPath('data', 'sample', 'reviews-sample.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { text: string }).text);
  const tables = fitTextAnomalyTables(sample.slice(0, 2500), { gram4Bits: 18, gram3Bits: 14, vocabBits: 18 });
  const scratch = createTextAnomalyScratch();
  return [...sample.slice(2500), ...EDGE_TEXTS].map((text) => {
    const out = new Float64Array(SIGNAL_COUNT);
    textFeatures(tables, text, scratch, out, 0);
    return { text, features: Array.from(out) };
  });
}
