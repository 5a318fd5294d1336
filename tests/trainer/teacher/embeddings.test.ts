/**
 * The teacher's embedding cache (trainer/teacher/embeddings.ts) reuses rows across subsets: a second set that shares
 * texts with an earlier one sends only its new texts through the encoder, and every reused row is the cached vector.
 * Runs the real encoder (scripts/fetch-teacher.sh), on a few unique texts so the shared cache never answers first.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ENCODER_DIM } from '../../../core/model/sentence-encoder.js';
import { teacherEmbeddings } from '../../../trainer/teacher/embeddings.js';

function rowOf(vector: Float32Array, row: number): number[] {
  return [...vector.subarray(row * ENCODER_DIM, (row + 1) * ENCODER_DIM)];
}

describe('teacher embedding cache', () => {
  it('encodes only the texts no earlier cache file holds', async () => {
    const run = randomUUID();
    const texts = [0, 1, 2].map((i) => ({ text: `Cache test ${run}: review number ${i} was fine.` }));
    const first = await teacherEmbeddings(texts);
    const logs: string[] = [];
    const fresh = { text: `Cache test ${run}: a review the first set did not have.` };
    const second = await teacherEmbeddings([texts[2]!, fresh, texts[0]!], (m) => logs.push(m));
    expect(logs).toContain('teacher: 2 of 3 rows already embedded');
    expect(logs.some((m) => m.startsWith('teacher: 1/1 rows'))).toBe(true);
    expect(rowOf(second, 0)).toEqual(rowOf(first, 2));
    expect(rowOf(second, 2)).toEqual(rowOf(first, 0));
    const norm = Math.hypot(...rowOf(second, 1));
    expect(norm).toBeCloseTo(1, 3);
  }, 120_000);
});
