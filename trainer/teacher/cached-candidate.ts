/**
 * A deterministic candidate's test probabilities cached on disk (.cache/fast-tier/), keyed by its name, a
 * version string of its parameters and the exact training and test rows (review id and rating). The stream model
 * and TF-IDF + LR take minutes per split on the full data; a second evaluation run (other students, other blends)
 * then reads them instead of training them again. Only for seeded candidates: same inputs, same probabilities.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { repoPath } from '../../core/paths.js';
import type { LabeledReview } from '../data.js';
import type { Candidate } from './evaluate.js';

export function cachedCandidate(candidate: Candidate, rows: readonly LabeledReview[], version: string): Candidate {
  return {
    name: candidate.name,
    async fitPredict(train, test) {
      const file = cacheFile(candidate.name, version, rows, train, test);
      if (existsSync(file)) return new Float32Array(readFileSync(file).buffer.slice(0));
      const out = await candidate.fitPredict(train, test);
      mkdirSync(repoPath('.cache', 'fast-tier'), { recursive: true });
      writeFileSync(`${file}.partial`, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      renameSync(`${file}.partial`, file);
      return out;
    },
  };
}

function cacheFile(name: string, version: string, rows: readonly LabeledReview[], train: readonly number[], test: readonly number[]): string {
  const hash = createHash('sha256').update(`${name}\u0002${version}`);
  for (const part of [train, test]) {
    hash.update('\u0001');
    for (const i of part) hash.update(`${rows[i]!.review_id}:${rows[i]!.rating}\u0000`);
  }
  return repoPath('.cache', 'fast-tier', `${hash.digest('hex').slice(0, 32)}.f32`);
}
