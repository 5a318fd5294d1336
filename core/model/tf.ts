/**
 * TensorFlow.js backend selection (DRIFTLINE_TF_BACKEND): `auto` tries @tensorflow/tfjs-node (native),
 * then @tensorflow/tfjs with the wasm backend, then the pure-JS cpu backend. The model code is the same
 * on every backend; callers get the namespace from here and never import a backend themselves.
 */
import type * as TfModule from '@tensorflow/tfjs';
import { coreSettings } from '../config.js';
import { DriftlineError } from '../errors.js';
import { createLogger } from '../logger.js';

export type Tf = typeof TfModule;
export type TfBackendChoice = 'auto' | 'node' | 'wasm' | 'cpu';

export interface LoadedTf {
  tf: Tf;
  /** The active backend name as tfjs reports it: 'tensorflow', 'wasm' or 'cpu'. */
  backend: string;
}

let current: Promise<LoadedTf> | undefined;
let currentChoice: TfBackendChoice | undefined;

/**
 * The process-wide tfjs namespace on the requested backend. The first call loads tfjs; a later call
 * with another choice switches the global backend (models loaded before keep working: tfjs moves
 * their tensors on first use).
 */
export function loadTf(choice: TfBackendChoice = coreSettings.load().tfBackend): Promise<LoadedTf> {
  if (current && currentChoice === choice) return current;
  const previous = current;
  currentChoice = choice;
  current = previous ? previous.then((loaded) => switchBackend(loaded, choice)) : selectBackend(choice);
  return current;
}

async function selectBackend(choice: TfBackendChoice): Promise<LoadedTf> {
  const log = createLogger('tf');
  if (choice === 'auto' || choice === 'node') {
    const native = await tryNode();
    if (native) {
      log.info({ backend: native.backend }, 'tensorflow.js backend selected');
      return native;
    }
    if (choice === 'node') throw new DriftlineError('CONFIG_INVALID', 'DRIFTLINE_TF_BACKEND=node but @tensorflow/tfjs-node does not load', { field: 'DRIFTLINE_TF_BACKEND' });
  }
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  const loaded = await switchBackend({ tf, backend: tf.getBackend() ?? 'none' }, choice === 'cpu' ? 'cpu' : 'wasm');
  log.info({ backend: loaded.backend }, 'tensorflow.js backend selected');
  return loaded;
}

async function tryNode(): Promise<LoadedTf | undefined> {
  // A variable specifier: the package is optional and absent on most machines (see runtime-facts.md).
  const specifier = '@tensorflow/tfjs-node';
  try {
    const tf = (await import(specifier)) as Tf;
    await tf.ready();
    return { tf, backend: tf.getBackend() };
  } catch {
    // Any failure (missing package, missing libtensorflow, ABI mismatch) means: use the next backend.
    return undefined;
  }
}

/** Switches an already loaded namespace to wasm or cpu; wasm falls back to cpu if it cannot start. */
async function switchBackend(loaded: LoadedTf, choice: TfBackendChoice): Promise<LoadedTf> {
  const { tf } = loaded;
  if (choice === 'wasm' || choice === 'auto') {
    try {
      await import('@tensorflow/tfjs-backend-wasm');
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return { tf, backend: 'wasm' };
      }
    } catch {
      // fall through to cpu
    }
  }
  if (choice === 'node' && loaded.backend === 'tensorflow') return loaded;
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu' };
}
