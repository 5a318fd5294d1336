/** The start-up warm-up (scorer/warmup.ts) runs real, valid reviews through the whole per-batch path with the shipped model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelRuntime } from '../../core/model/runtime.js';
import type { ModelRuntime } from '../../core/model/types.js';
import { repoPath } from '../../core/paths.js';
import { processBatch } from '../../scorer/pipeline.js';
import { roundTripRecords, syntheticBatch, warmUp } from '../../scorer/warmup.js';

let runtime: ModelRuntime;
beforeAll(async () => {
  runtime = await loadModelRuntime(repoPath('models', 'default'), { name: 'default', version: 1 });
}, 120_000);
afterAll(() => runtime?.dispose());

describe('scorer warm-up', () => {
  it('synthetic reviews are all valid and scored (none dead-lettered), so the warm-up exercises the scoring path', async () => {
    const result = await processBatch(syntheticBatch(40), { topic: 'warmup', partition: 0 }, runtime);
    expect(result.deadLetters).toEqual([]);
    expect(result.scored).toHaveLength(40);
    expect(new Set(result.scored.map((s) => s.reviewId)).size).toBe(40);
  });

  it('warmUp scores every synthetic review of every round', async () => {
    await expect(warmUp(runtime, { rounds: 2, size: 30 })).resolves.toBe(60);
  });

  it("the scored messages go through kafkajs's Produce encoding and Fetch decoding whole (every record decoded back)", async () => {
    const result = await processBatch(syntheticBatch(25), { topic: 'warmup', partition: 0 }, runtime, { outputPartition: 0 });
    await expect(roundTripRecords(result.scored.map((s) => s.message))).resolves.toBe(25);
  });
});
