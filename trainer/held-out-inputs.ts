/**
 * A version's own held-out rows scored by the version itself, as monitoring sees them: what its reference
 * baseline is built from (trainer/pipeline.ts heldOutBaseline). Tools that rebuild parts of a stored
 * version's reference (trainer/segments-cli.ts) and the tests that check a stored reference against the
 * raw values it summarises find the same rows with it (the version's recorded holdout and salt).
 */
import { join } from 'node:path';
import type { MonitoredInput } from '../core/drift/baseline.js';
import { DriftlineError } from '../core/errors.js';
import { loadModelRuntime } from '../core/model/runtime.js';
import { RECORD_FILE } from '../core/model/registry/index.js';
import { loadLabeledJsonl, splitByReviewId, type LabeledReview } from './data.js';
import { monitoredInput, scoreAll } from './evaluate.js';
import { readVersionRecord, recordedHoldout } from './version-record.js';

export interface HeldOutInputs {
  held: LabeledReview[];
  inputs: MonitoredInput[];
}

export async function heldOutMonitoredInputs(versionDir: string, dataFiles: string[]): Promise<HeldOutInputs> {
  const record = await readVersionRecord(versionDir);
  const split = recordedHoldout(record);
  if (!split) {
    throw new DriftlineError('MODEL_CHECK_FAILED', `${join(versionDir, RECORD_FILE)} records no holdout/holdoutSalt: the version's held-out rows cannot be found again`);
  }
  const loaded = await loadLabeledJsonl(dataFiles);
  const { held } = splitByReviewId(loaded.rows, split.holdout, split.holdoutSalt);
  const runtime = await loadModelRuntime(versionDir, { name: record?.name ?? 'model', version: record?.version ?? 1 });
  try {
    const predictions = await scoreAll(runtime, held);
    return { held, inputs: held.map((row, i) => monitoredInput(row, predictions[i]!)) };
  } finally {
    runtime.dispose();
  }
}
