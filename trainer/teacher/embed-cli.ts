/**
 * `tsx trainer/teacher/embed-cli.ts [--sample F] FILE.jsonl...`: fills the teacher's embedding cache for these files
 * (or for the share F of their reviews picked by review-id hash, the same rows `evaluate-cli --sample F` uses).
 */
import { parseArgs } from 'node:util';
import { loadLabeledJsonl } from '../data.js';
import { teacherEmbeddings } from './embeddings.js';
import { sampleRows } from './splits.js';

const { values, positionals } = parseArgs({ options: { sample: { type: 'string' } }, allowPositionals: true });
const data = await loadLabeledJsonl(positionals);
const rows = sampleRows(data.rows, values.sample ? Number(values.sample) : 1);
const vectors = await teacherEmbeddings(rows, (m) => console.log(m));
console.log(`teacher embeddings: ${rows.length} rows, ${vectors.length / Math.max(1, rows.length)} dims`);
