/**
 * A deterministic candidate's test probabilities cached on disk (.cache/fast-tier/), keyed by its name, a
 * version string of its parameters and the exact training and test rows (review id and rating). The stream model
 * and TF-IDF + LR take minutes per split on the full data; a second evaluation run (other students, other blends)
 * then reads them instead of training them again. Only for seeded candidates: same inputs, same probabilities.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../../core/paths.js';
import type { LabeledReview } from '../data.js';
import type { Candidate } from './evaluate.js';

export function cachedCandidate(candidate: Candidate, rows: readonly LabeledReview[], version: string, dir = repoPath('.cache', 'fast-tier')): Candidate {
  return {
    name: candidate.name,
    async fitPredict(train, test) {
      const file = join(dir, `${cacheKey(candidate.name, version, rows, train, test)}.f32`);
      if (existsSync(file)) {
        // A small file's Buffer is a view into Node's shared pool: copy exactly its bytes.
        const bytes = readFileSync(file);
        return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      }
      const out = await candidate.fitPredict(train, test);
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${file}.partial`, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      renameSync(`${file}.partial`, file);
      return out;
    },
  };
}

function cacheKey(name: string, version: string, rows: readonly LabeledReview[], train: readonly number[], test: readonly number[]): string {
  const hash = createHash('sha256').update(`${name}\u0002${version}`);
  for (const part of [train, test]) {
    hash.update('\u0001');
    for (const i of part) hash.update(`${rows[i]!.review_id}:${rows[i]!.rating}\u0000`);
  }
  return hash.digest('hex').slice(0, 32);
}
