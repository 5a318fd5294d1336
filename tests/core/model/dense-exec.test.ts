/**
 * The dense runner's direct wasm-kernel path (core/model/dense-exec.ts) against the tfjs engine path it
 * replaces: the same bytes out, bit for bit, for the shipped model's heads and autoencoder at several batch
 * sizes, and the same answers when the active backend is not wasm (it then takes the engine path).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readModelBundle } from '../../../core/model/artifacts.js';
import { compileDenseModel, compileDenseModelViaEngine, type DenseRunner } from '../../../core/model/dense-exec.js';
import { seededRandom } from '../../../core/model/prng.js';
import { outlierDim, type ModelBundle } from '../../../core/model/text-model.js';
import { loadTf, type LoadedTf } from '../../../core/model/tf.js';
import { repoPath } from '../../../core/paths.js';

let loaded: LoadedTf;
let bundle: ModelBundle;

beforeAll(async () => {
  loaded = await loadTf('wasm');
  bundle = await readModelBundle(loaded.tf, repoPath('models', 'default'));
});

afterAll(() => {
  bundle.head.dispose();
  bundle.autoencoder.dispose();
});

function randomRows(rows: number, width: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(rows * width);
  for (let i = 0; i < out.length; i++) out[i] = (random() - 0.5) * 6;
  return out;
}

function bytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

function expectSameBytes(direct: Float32Array[], engine: Float32Array[]): void {
  expect(direct.length).toBe(engine.length);
  direct.forEach((values, i) => {
    expect(values.length).toBe(engine[i]!.length);
    expect(bytes(values).equals(bytes(engine[i]!))).toBe(true);
  });
}

describe('dense runner: direct wasm kernels vs the tfjs engine', () => {
  const sizes = [1, 2, 37, 100, 512];

  it('runs on the wasm backend here and takes the direct path (else these tests would compare the engine with itself)', () => {
    expect(loaded.backend).toBe('wasm');
    const width = bundle.head.inputs[0]!.shape[1]!;
    const tidy = vi.spyOn(loaded.tf.engine(), 'tidy');
    try {
      compileDenseModel(loaded.tf, bundle.head, 2)(randomRows(4, width, 1), 4, width);
      expect(tidy).not.toHaveBeenCalled();
      compileDenseModelViaEngine(loaded.tf, bundle.head, 2)(randomRows(4, width, 1), 4, width);
      expect(tidy).toHaveBeenCalled();
    } finally {
      tidy.mockRestore();
    }
  });

  it('gives the heads (relu trunk, two softmax outputs) bit-identical outputs', () => {
    const width = bundle.head.inputs[0]!.shape[1]!;
    const direct: DenseRunner<[Float32Array, Float32Array]> = compileDenseModel(loaded.tf, bundle.head, 2);
    const engine: DenseRunner<[Float32Array, Float32Array]> = compileDenseModelViaEngine(loaded.tf, bundle.head, 2);
    for (const rows of sizes) {
      const input = randomRows(rows, width, rows);
      expectSameBytes(direct(input, rows, width), engine(input, rows, width));
    }
  });

  it('gives the autoencoder (relu and linear layers with biases) bit-identical outputs', () => {
    const width = outlierDim(bundle.manifest.embeddingDim);
    const direct: DenseRunner<[Float32Array]> = compileDenseModel(loaded.tf, bundle.autoencoder, 1);
    const engine: DenseRunner<[Float32Array]> = compileDenseModelViaEngine(loaded.tf, bundle.autoencoder, 1);
    for (const rows of sizes) {
      const input = randomRows(rows, width, 1000 + rows);
      expectSameBytes(direct(input, rows, width), engine(input, rows, width));
    }
  });

  it('frees the wasm memory of every call', () => {
    const width = outlierDim(bundle.manifest.embeddingDim);
    const direct: DenseRunner<[Float32Array]> = compileDenseModel(loaded.tf, bundle.autoencoder, 1);
    direct(randomRows(3, width, 7), 3, width);
    const before = loaded.tf.backend().numDataIds();
    for (let i = 0; i < 20; i++) direct(randomRows(5, width, i), 5, width);
    expect(loaded.tf.backend().numDataIds()).toBe(before);
  });

  it('answers an empty batch with empty outputs', () => {
    const width = outlierDim(bundle.manifest.embeddingDim);
    const [out] = compileDenseModel<[Float32Array]>(loaded.tf, bundle.autoencoder, 1)(new Float32Array(0), 0, width);
    expect(out.length).toBe(0);
  });
});
