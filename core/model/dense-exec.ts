/**
 * Fast inference for the small dense-only tfjs models of the runtime (heads, autoencoder).
 *
 * LayersModel.predict costs ~3.5 ms of fixed JS overhead per call on wasm (measured: 4.2 ms for a
 * 512-row batch through the heads, against 0.6 ms for the same math as fused tfjs ops). This walks the
 * loaded model's graph once and replays it as tf.fused.matMul (+ softmax) calls on the model's own
 * weight tensors: same weights, same backend, same results up to float rounding, no per-call graph walk.
 *
 * On the wasm backend (what serves here) it goes one step further: the same two kernels tfjs would run
 * (_FusedMatMul on 3-D views, Softmax on the last axis) are called directly with the same inputs and
 * attributes, skipping the engine's per-op bookkeeping (scopes, tensor tracking, gradient wrappers,
 * reshapes). That bookkeeping allocated ~75 KB of JS heap per call of a 4-layer model — most of what
 * one API request allocated, and so of its garbage collections. Same wasm calls on the same bytes:
 * bit-identical results (tests/core/model/dense-exec.test.ts compares both paths).
 */
import type { DataId, KernelBackend, KernelFunc, LayersModel, Tensor, Tensor2D, TensorInfo } from '@tensorflow/tfjs';
import { DriftlineError } from '../errors.js';
import type { Tf } from './tf.js';

interface DenseStep {
  name: string;
  input: string;
  kernel: Tensor2D;
  bias: Tensor | undefined;
  activation: 'linear' | 'relu' | 'softmax';
}

/** Runs the model on `rows` rows of `width` floats; one array per model output, in output order. */
export type DenseRunner<Outputs extends Float32Array[]> = (input: Float32Array, rows: number, width: number) => Outputs;

const ACTIVATIONS = new Set(['linear', 'relu', 'softmax']);

/** `outputCount` is checked against the model here, at load, so the runner's tuple type holds for every call. */
export function compileDenseModel<Outputs extends Float32Array[]>(tf: Tf, model: LayersModel, outputCount: Outputs['length'], options: { direct?: boolean } = {}): DenseRunner<Outputs> {
  const steps: DenseStep[] = [];
  // model.inputs/outputs work for functional and Sequential models alike (Sequential hides its InputLayer).
  const inputName = model.inputs[0]?.sourceLayer.name;
  if (model.inputs.length !== 1 || !inputName) throw new DriftlineError('MODEL_LOAD_FAILED', `${model.name}: expected one input`);
  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === 'InputLayer') continue;
    const config = layer.getConfig() as { activation?: string; useBias?: boolean };
    const inbound = layer.inboundNodes[0]?.inboundLayers ?? [];
    const source = inbound.length === 1 ? inbound[0] : undefined;
    if (className !== 'Dense' || !source || !ACTIVATIONS.has(config.activation ?? '')) {
      throw new DriftlineError('MODEL_LOAD_FAILED', `${model.name}: unsupported layer ${layer.name} (${className}, activation ${String(config.activation)})`);
    }
    const [kernel, bias] = layer.weights.map((w) => w.read());
    steps.push({ name: layer.name, input: source.name, kernel: kernel as Tensor2D, bias, activation: config.activation as DenseStep['activation'] });
  }
  const outputs = model.outputs.map((o) => o.sourceLayer.name);
  if (outputs.length !== outputCount) throw new DriftlineError('MODEL_LOAD_FAILED', `${model.name}: ${outputs.length} outputs, expected ${outputCount}`);
  const viaEngine: DenseRunner<Outputs> = (input, rows, width) => {
    // tidy returns tensors only: handing typed arrays back through tidy makes tfjs walk every element.
    const results = tf.tidy(() => {
      const values = new Map<string, Tensor2D>([[inputName, tf.tensor2d(input, [rows, width])]]);
      for (const step of steps) {
        const x = values.get(step.input)!;
        const z = tf.fused.matMul({ a: x, b: step.kernel, bias: step.bias, activation: step.activation === 'relu' ? 'relu' : 'linear' }) as Tensor2D;
        values.set(step.name, step.activation === 'softmax' ? (tf.softmax(z) as Tensor2D) : z);
      }
      return outputs.map((name) => values.get(name)!);
    });
    try {
      return results.map((t) => t.dataSync() as Float32Array) as Outputs;
    } finally {
      results.forEach((t) => t.dispose());
    }
  };
  const direct = options.direct === false ? null : directWasmRunner<Outputs>(tf, inputName, steps, outputs);
  return (input, rows, width) => {
    if (rows === 0) return outputs.map(() => new Float32Array(0)) as Outputs;
    // The backend can be switched after load (core/model/tf.ts moves the weights): checked per call.
    if (direct !== null && input.length === rows * width && tf.getBackend() === 'wasm') return direct(input, rows, width);
    return viaEngine(input, rows, width);
  };
}

/** The engine path's runner, for the test that holds the direct path to it. */
export function compileDenseModelViaEngine<Outputs extends Float32Array[]>(tf: Tf, model: LayersModel, outputCount: Outputs['length']): DenseRunner<Outputs> {
  return compileDenseModel<Outputs>(tf, model, outputCount, { direct: false });
}

/**
 * The runner that calls the wasm kernels itself (null when they are not registered). Per layer exactly what
 * tf.fused.matMul hands the kernel: a as [1, rows, k], b as [1, k, n], the rank-1 bias, transposes off,
 * leakyreluAlpha 0.2 (unused by relu/linear); then Softmax on the last axis of the [rows, n] result.
 */
function directWasmRunner<Outputs extends Float32Array[]>(tf: Tf, inputName: string, steps: readonly DenseStep[], outputs: readonly string[]): DenseRunner<Outputs> | null {
  let matMul: KernelFunc;
  let softmax: KernelFunc;
  try {
    matMul = tf.getKernel('_FusedMatMul', 'wasm').kernelFunc;
    softmax = tf.getKernel('Softmax', 'wasm').kernelFunc;
  } catch {
    return null;
  }
  const matMulAttrs = {
    relu: { transposeA: false, transposeB: false, activation: 'relu', leakyreluAlpha: 0.2 },
    linear: { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 },
  };
  const softmaxAttrs = { dim: 1 };
  const plan = steps.map((step) => {
    const [k, n] = step.kernel.shape;
    return { step, k, n, attrs: step.activation === 'relu' ? matMulAttrs.relu : matMulAttrs.linear };
  });
  const values = new Map<string, TensorInfo>();
  const owned: DataId[] = [];
  return (input, rows, width) => {
    const backend: KernelBackend = tf.backend();
    values.clear();
    owned.length = 0;
    try {
      const inputId = backend.write(input, [rows, width], 'float32');
      owned.push(inputId);
      values.set(inputName, { dataId: inputId, shape: [rows, width], dtype: 'float32' });
      for (const { step, k, n, attrs } of plan) {
        const x = values.get(step.input)!;
        const out = matMul({
          inputs: {
            a: { dataId: x.dataId, shape: [1, rows, k], dtype: 'float32' },
            b: { dataId: step.kernel.dataId, shape: [1, k, n], dtype: 'float32' },
            ...(step.bias ? { bias: step.bias } : {}),
          },
          backend,
          attrs,
        }) as TensorInfo;
        owned.push(out.dataId);
        let result: TensorInfo = { dataId: out.dataId, shape: [rows, n], dtype: 'float32' };
        if (step.activation === 'softmax') {
          result = softmax({ inputs: { logits: result }, backend, attrs: softmaxAttrs }) as TensorInfo;
          owned.push(result.dataId);
        }
        values.set(step.name, result);
      }
      return outputs.map((name) => backend.readSync(values.get(name)!.dataId) as Float32Array) as Outputs;
    } finally {
      for (const dataId of owned) backend.disposeData(dataId, true);
      values.clear();
      owned.length = 0;
    }
  };
}
