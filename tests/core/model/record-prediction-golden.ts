/**
 * Records the prediction golden (see prediction-golden.ts) of models/default with the code of this tree:
 *   npx tsx tests/core/model/record-prediction-golden.ts "<commit and why>" [model dir] [output file]
 * (another model dir and output: a local before/after check of a model that is not committed, e.g. under .run/).
 * Record only with code whose predictions are the reference (before a change that must not move them), and
 * again when models/default itself changes, with code that is known good.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadModelRuntime } from '../../../core/model/runtime.js';
import { GOLDEN_FILE, GOLDEN_MODEL_DIR, type PredictionGolden, modelDigest, scoreGoldenBatches } from './prediction-golden.js';

const recordedBy = process.argv[2];
if (!recordedBy) throw new Error('usage: record-prediction-golden.ts "<commit the code is at, and why>"');
const modelDir = process.argv[3] ?? GOLDEN_MODEL_DIR;
const outFile = process.argv[4] ?? GOLDEN_FILE;
const runtime = await loadModelRuntime(modelDir, { name: 'golden', version: 1 });
await runtime.check();
const golden: PredictionGolden = { recordedBy, modelDigest: modelDigest(modelDir), batches: await scoreGoldenBatches(runtime) };
runtime.dispose();
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, gzipSync(`${JSON.stringify(golden)}\n`, { level: 9 }));
process.stdout.write(`wrote ${outFile}: ${golden.batches.map((b) => b.predictions.length).join(' + ')} predictions, model ${golden.modelDigest.slice(0, 12)}\n`);
