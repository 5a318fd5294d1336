/**
 * On-disk format of one model version (a registry version directory holds these files):
 *
 *   driftline-model.json      manifest: format, version, dims, class lists
 *   featurizer.json           FeaturizerConfig (hashing, truncation, numeric scaling)
 *   embedding/model.json      tfjs layers model with one Embedding layer (buckets x dim)
 *   embedding/weights.bin
 *   text/model.json           tfjs layers model: sentiment + category heads
 *   text/weights.bin
 *   wide/model.json           the wide part's weight list: idf [buckets], kernel [buckets, 3], bias [3]
 *   wide/weights.bin          (float32, little-endian, in that order)
 *   autoencoder/model.json    tfjs layers model: outlier autoencoder
 *   autoencoder/weights.bin
 *   outlier.json              isolation forest, ECDF calibrations, k-means centroids, k-NN shift sample,
 *                             text-anomaly sizes and calibration
 *   outlier-text.bin          text-anomaly tables: char 4-gram and 3-gram surprise, word bitset (optional:
 *                             directories written before it have neither this file nor the two outlier.json parts)
 *   category-wide.bin         the wide category part (optional, format 3: when the manifest has a categoryBlend)
 *
 * tfjs models are written with tf.io.withSaveHandler and read with tf.io.fromMemory (no tfjs-node
 * file handler needed). Anything missing, truncated or of an unknown format is MODEL_LOAD_FAILED.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayersModel, io } from '@tensorflow/tfjs';
import { DriftlineError } from '../errors.js';
import { parseFeaturizerConfig } from '../features/featurizer.js';
import type { ModelBundle, ModelManifest, OutlierModel, WideModel } from './text-model.js';
import { MODEL_FORMAT, READABLE_MODEL_FORMAT_VERSIONS, outlierDim } from './text-model.js';
import { type TextAnomalyJson, textAnomalyFromArtifacts, textTablesBytes } from './text-anomaly.js';
import { CATEGORY_WIDE_FILE, type CategoryWideModel, readCategoryWide, serializeCategoryWide } from './category-wide.js';
import type { Tf } from './tf.js';

export const MANIFEST_FILE = 'driftline-model.json';
/** Optional (see the header): not in ARTIFACT_FILES, which lists what every version has. */
export const TEXT_ANOMALY_FILE = 'outlier-text.bin';
export const ARTIFACT_FILES = [
  MANIFEST_FILE,
  'featurizer.json',
  'embedding/model.json',
  'embedding/weights.bin',
  'text/model.json',
  'text/weights.bin',
  'wide/model.json',
  'wide/weights.bin',
  'autoencoder/model.json',
  'autoencoder/weights.bin',
  'outlier.json',
] as const;

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: unknown;
  /** One group: a version's model is one weights.bin (parseModelJson refuses any other layout). */
  weightsManifest: [{ paths: string[]; weights: io.WeightsManifestEntry[] }];
}

/** Writes every file of a model version into `dir` (which must exist). */
export async function writeModelArtifacts(trained: ModelBundle, dir: string): Promise<void> {
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(trained.manifest, null, 2)}\n`);
  await writeFile(join(dir, 'featurizer.json'), `${JSON.stringify(trained.featurizer, null, 2)}\n`);
  await writeEmbedding(trained, join(dir, 'embedding'));
  await writeLayersModel(trained.head, join(dir, 'text'));
  await writeWide(trained.wide, join(dir, 'wide'));
  if (trained.sentences) await writeSentenceModel(trained.sentences, dir);
  if (trained.categoryWide) await writeFile(join(dir, CATEGORY_WIDE_FILE), serializeCategoryWide(trained.categoryWide));
  await writeLayersModel(trained.autoencoder, join(dir, 'autoencoder'));
  const { textAnomaly, ...outlier } = trained.outlier;
  if (textAnomaly) {
    const { gram4Bits, gram3Bits, vocabBits, median, q99 } = textAnomaly;
    await writeFile(join(dir, 'outlier.json'), JSON.stringify({ ...outlier, textAnomaly: { gram4Bits, gram3Bits, vocabBits, median, q99 } satisfies TextAnomalyJson }));
    await writeFile(join(dir, TEXT_ANOMALY_FILE), textTablesBytes(textAnomaly));
  } else await writeFile(join(dir, 'outlier.json'), JSON.stringify(outlier));
}

async function writeLayersModel(model: LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  let saved: io.ModelArtifacts | undefined;
  // withSaveHandler comes from the same tfjs instance as the model; reach it through the model's save().
  await model.save({
    save: async (artifacts: io.ModelArtifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    },
  });
  if (!saved || !saved.weightSpecs || !saved.weightData) throw new DriftlineError('INTERNAL', 'tfjs save produced no weights');
  const weightData = joinWeightData(saved.weightData);
  const modelJson: ModelJson = {
    format: saved.format ?? 'layers-model',
    generatedBy: saved.generatedBy,
    convertedBy: saved.convertedBy ?? null,
    modelTopology: saved.modelTopology,
    weightsManifest: [{ paths: ['weights.bin'], weights: saved.weightSpecs }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(weightData));
}

function joinWeightData(data: io.WeightData): ArrayBuffer {
  if (!Array.isArray(data)) return data as ArrayBuffer;
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  return out.buffer;
}

/** The embedding table as a standard tfjs layers model (one Embedding layer), written directly. */
async function writeEmbedding(trained: ModelBundle, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const buckets = trained.featurizer.buckets;
  const dim = trained.manifest.embeddingDim;
  const modelJson: ModelJson = {
    format: 'layers-model',
    generatedBy: 'driftline',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'token_embedding',
        layers: [
          {
            class_name: 'Embedding',
            config: { name: 'embedding', trainable: true, batch_input_shape: [null, null], dtype: 'float32', input_dim: buckets, output_dim: dim, embeddings_initializer: { class_name: 'Zeros', config: {} }, mask_zero: false, input_length: null },
          },
        ],
      },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'embedding/embeddings', shape: [buckets, dim], dtype: 'float32' }] }],
  };
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
  const e = trained.embedding;
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(e.buffer, e.byteOffset, e.byteLength));
}

const WIDE_FORMAT = 'driftline-wide';

function wideSpecs(buckets: number): io.WeightsManifestEntry[] {
  return [
    { name: 'wide/idf', shape: [buckets], dtype: 'float32' },
    { name: 'wide/kernel', shape: [buckets, 3], dtype: 'float32' },
    { name: 'wide/bias', shape: [3], dtype: 'float32' },
  ];
}

/** Optional (see ModelBundle.sentences): the sentence model, in the wide part's format. */
export const SENTENCE_MODEL_DIR = 'sentences';

/** Writes (or replaces) a version's sentence model. */
export async function writeSentenceModel(model: WideModel, versionDir: string): Promise<void> {
  await writeWide(model, join(versionDir, SENTENCE_MODEL_DIR));
}

/** The version's sentence model, undefined when it has none (MODEL_LOAD_FAILED when it is there but broken). */
export async function readSentenceModel(versionDir: string, buckets: number): Promise<WideModel | undefined> {
  const dir = join(versionDir, SENTENCE_MODEL_DIR);
  if (!(await access(join(dir, 'model.json')).then(() => true, () => false))) return undefined;
  return readWide(dir, buckets);
}

/** The wide part: a weight list in tfjs' manifest notation and one binary (idf, kernel, bias). */
async function writeWide(wide: WideModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const buckets = wide.idf.length;
  await writeFile(join(dir, 'model.json'), JSON.stringify({ format: WIDE_FORMAT, weightsManifest: [{ paths: ['weights.bin'], weights: wideSpecs(buckets) }] }));
  const bytes = new Uint8Array((buckets * 4 + 3) * 4);
  const all = new Float32Array(bytes.buffer);
  all.set(wide.idf, 0);
  all.set(wide.kernel, buckets);
  all.set(wide.bias, buckets * 4);
  await writeFile(join(dir, 'weights.bin'), bytes);
}

// ---------------------------------------------------------------------------------------------
// Reading

function loadFailed(message: string, cause?: unknown): DriftlineError {
  return new DriftlineError('MODEL_LOAD_FAILED', message, cause === undefined ? {} : { cause });
}

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw loadFailed(`cannot read model artifact ${path}: ${(err as Error).message}`, err);
  }
}

async function readJson(path: string): Promise<unknown> {
  const bytes = await readBytes(path);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw loadFailed(`model artifact ${path} is not valid JSON`, err);
  }
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function expectedBytes(specs: io.WeightsManifestEntry[]): number {
  const width: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (width[s.dtype] ?? Number.NaN), 0);
}

function parseModelJson(value: unknown, path: string): ModelJson {
  const json = value as Partial<ModelJson> | null;
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest) || json.weightsManifest.length !== 1) {
    throw loadFailed(`${path}: not a tfjs layers model.json (modelTopology + one weightsManifest group expected)`);
  }
  const [group] = json.weightsManifest;
  if (!group || !Array.isArray(group.weights) || !Array.isArray(group.paths) || group.paths.length !== 1 || group.paths[0] !== 'weights.bin') {
    throw loadFailed(`${path}: weightsManifest must name weights.bin`);
  }
  return json as ModelJson;
}

async function readLayersModel(tf: Tf, dir: string): Promise<LayersModel> {
  const modelJson = parseModelJson(await readJson(join(dir, 'model.json')), join(dir, 'model.json'));
  const specs = modelJson.weightsManifest[0].weights;
  const weights = await readBytes(join(dir, 'weights.bin'));
  if (weights.byteLength !== expectedBytes(specs)) {
    throw loadFailed(`${join(dir, 'weights.bin')}: ${weights.byteLength} bytes, the manifest needs ${expectedBytes(specs)}`);
  }
  try {
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: modelJson.modelTopology as io.ModelArtifacts['modelTopology'], weightSpecs: specs, weightData: toArrayBuffer(weights) }),
    );
    return model;
  } catch (err) {
    throw loadFailed(`${dir}: tfjs cannot load the model: ${(err as Error).message}`, err);
  }
}

async function readEmbedding(dir: string, buckets: number, dim: number): Promise<Float32Array> {
  const modelJson = parseModelJson(await readJson(join(dir, 'model.json')), join(dir, 'model.json'));
  const specs = modelJson.weightsManifest[0].weights;
  const [spec] = specs;
  if (specs.length !== 1 || !spec || spec.dtype !== 'float32' || spec.shape.length !== 2 || spec.shape[0] !== buckets || spec.shape[1] !== dim) {
    throw loadFailed(`${dir}: embedding must be one float32 [${buckets}, ${dim}] weight`);
  }
  const bytes = await readBytes(join(dir, 'weights.bin'));
  if (bytes.byteLength !== buckets * dim * 4) throw loadFailed(`${dir}/weights.bin: ${bytes.byteLength} bytes, expected ${buckets * dim * 4}`);
  // Copy: the Buffer may share a pool, and a Float32Array needs 4-byte alignment. Little-endian, as tfjs writes.
  const table = new Float32Array(buckets * dim);
  new Uint8Array(table.buffer).set(bytes);
  for (let i = 0; i < table.length; i++) if (!Number.isFinite(table[i])) throw loadFailed(`${dir}/weights.bin holds non-finite values`);
  return table;
}

async function readWide(dir: string, buckets: number): Promise<WideModel> {
  const json = (await readJson(join(dir, 'model.json'))) as { format?: unknown; weightsManifest?: Array<{ paths?: unknown; weights?: unknown }> } | null;
  const group = json?.weightsManifest?.[0];
  if (json?.format !== WIDE_FORMAT || json.weightsManifest?.length !== 1 || JSON.stringify(group?.paths) !== '["weights.bin"]' || JSON.stringify(group?.weights) !== JSON.stringify(wideSpecs(buckets))) {
    throw loadFailed(`${dir}/model.json: not a ${WIDE_FORMAT} weight list for ${buckets} buckets`);
  }
  const bytes = await readBytes(join(dir, 'weights.bin'));
  const expected = (buckets * 4 + 3) * 4;
  if (bytes.byteLength !== expected) throw loadFailed(`${dir}/weights.bin: ${bytes.byteLength} bytes, expected ${expected}`);
  const all = new Float32Array(buckets * 4 + 3);
  new Uint8Array(all.buffer).set(bytes);
  for (let i = 0; i < all.length; i++) if (!Number.isFinite(all[i])) throw loadFailed(`${dir}/weights.bin holds non-finite values`);
  for (let i = 0; i < buckets; i++) if (all[i]! < 0) throw loadFailed(`${dir}/weights.bin: negative idf`);
  return { idf: all.subarray(0, buckets), kernel: all.subarray(buckets, buckets * 4), bias: all.subarray(buckets * 4) };
}

function parseManifest(value: unknown): ModelManifest {
  const m = value as Partial<ModelManifest> | null;
  if (!m || m.format !== MODEL_FORMAT) throw loadFailed(`${MANIFEST_FILE}: not a ${MODEL_FORMAT} manifest`);
  if (!READABLE_MODEL_FORMAT_VERSIONS.includes(m.formatVersion as number)) throw loadFailed(`${MANIFEST_FILE}: unknown formatVersion ${String(m.formatVersion)}`);
  if (!Number.isInteger(m.embeddingDim) || (m.embeddingDim ?? 0) < 4 || (m.embeddingDim ?? 0) % 4 !== 0) throw loadFailed(`${MANIFEST_FILE}: embeddingDim must be a positive multiple of 4`);
  if (!Array.isArray(m.sentimentClasses) || m.sentimentClasses.join(',') !== 'negative,neutral,positive') {
    throw loadFailed(`${MANIFEST_FILE}: sentimentClasses must be negative,neutral,positive`);
  }
  if (!Array.isArray(m.categories)) throw loadFailed(`${MANIFEST_FILE}: categories missing`);
  if (m.pooling !== 'mean' && m.pooling !== 'sqrt') throw loadFailed(`${MANIFEST_FILE}: unknown pooling ${String(m.pooling)}`);
  const blend = m.blend;
  if (
    !blend ||
    !(blend.wideWeight >= 0 && blend.wideWeight <= 1) ||
    !Array.isArray(blend.logOffsets) ||
    blend.logOffsets.length !== 3 ||
    !blend.logOffsets.every((x) => typeof x === 'number' && Number.isFinite(x))
  ) {
    throw loadFailed(`${MANIFEST_FILE}: blend must have wideWeight in [0, 1] and three finite logOffsets`);
  }
  if (m.categoryBlend !== undefined) parseCategoryBlend(m.categoryBlend, m.formatVersion!, m.categories.length);
  return m as ModelManifest;
}

function parseCategoryBlend(blend: unknown, formatVersion: number, classes: number): void {
  const b = blend as Partial<ModelManifest['categoryBlend']> | null;
  const bad = (why: string) => loadFailed(`${MANIFEST_FILE}: categoryBlend ${why}`);
  if (formatVersion < 3) throw bad(`needs formatVersion 3, the manifest says ${formatVersion}`);
  if (!b || typeof b !== 'object') throw bad('must be an object');
  // A fixed name: the manifest must not be able to point the loader at another file.
  if (b.file !== CATEGORY_WIDE_FILE) throw bad(`file must be ${CATEGORY_WIDE_FILE}, got ${JSON.stringify(b.file)}`);
  if (typeof b.headWeight !== 'number' || !(b.headWeight >= 0 && b.headWeight <= 1)) throw bad('headWeight must be in [0, 1]');
  if (!Array.isArray(b.logOffsets) || b.logOffsets.length !== classes || !b.logOffsets.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw bad(`logOffsets must be ${classes} finite numbers (one per category)`);
  }
}

/** The wide category part the manifest names (the runtime checks that its idf is the wide sentiment part's). */
async function readStreamCategoryWide(dir: string, manifest: ModelManifest, buckets: number): Promise<CategoryWideModel | undefined> {
  return manifest.categoryBlend ? readCategoryWide(dir, buckets, manifest.categories.length) : undefined;
}

function parseOutlier(value: unknown, dims: number): OutlierModel {
  const o = value as Partial<OutlierModel> | null;
  const ecdfOk = (e: unknown) => typeof e === 'object' && e !== null && Array.isArray((e as { points?: unknown }).points) && (e as { points: unknown[] }).points.length > 0;
  if (!o || !o.forest || !Array.isArray(o.forest.trees) || o.forest.trees.length === 0 || o.forest.dims !== dims) throw loadFailed('outlier.json: isolation forest missing or of the wrong width');
  if (![o.autoencoderEcdf, o.forestEcdf, o.combinedEcdf, o.shiftEcdf].every(ecdfOk)) throw loadFailed('outlier.json: calibration missing');
  if (!o.centroids || !Array.isArray(o.centroids.values) || o.centroids.values.length !== o.centroids.k * o.centroids.dims) throw loadFailed('outlier.json: centroids invalid');
  if (!Array.isArray(o.embeddingMean) || !Array.isArray(o.embeddingStd) || typeof o.knownMean !== 'number' || typeof o.knownStd !== 'number') {
    throw loadFailed('outlier.json: scaling missing');
  }
  const knn = o.shiftKnn;
  if (knn !== undefined && (!knn || !Array.isArray(knn.points) || !Number.isInteger(knn.k) || !Number.isInteger(knn.dims) || !knn.points.every(Number.isFinite))) {
    throw loadFailed('outlier.json: k-NN shift sample invalid');
  }
  return o as OutlierModel;
}

/** The text-anomaly tables, when outlier.json announces them (then the binary must be there and fit). */
async function readTextAnomaly(dir: string, outlier: OutlierModel): Promise<void> {
  const json = (outlier as { textAnomaly?: unknown }).textAnomaly;
  if (json === undefined) return;
  if (typeof json !== 'object' || json === null) throw loadFailed('outlier.json: textAnomaly invalid');
  const bytes = await readBytes(join(dir, TEXT_ANOMALY_FILE));
  try {
    outlier.textAnomaly = textAnomalyFromArtifacts(json as TextAnomalyJson, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice(), join(dir, TEXT_ANOMALY_FILE));
  } catch (err) {
    throw err instanceof DriftlineError ? err : loadFailed(`${dir}: ${(err as Error).message}`, err);
  }
}

/** Reads and validates every artifact of a version directory. */
export async function readModelBundle(tf: Tf, dir: string): Promise<ModelBundle> {
  const manifest = parseManifest(await readJson(join(dir, MANIFEST_FILE)));
  const featurizer = parseFeaturizerConfig(await readJson(join(dir, 'featurizer.json')));
  const outlier = parseOutlier(await readJson(join(dir, 'outlier.json')), outlierDim(manifest.embeddingDim));
  await readTextAnomaly(dir, outlier);
  const embedding = await readEmbedding(join(dir, 'embedding'), featurizer.buckets, manifest.embeddingDim);
  const wide = await readWide(join(dir, 'wide'), featurizer.buckets);
  const sentences = await readSentenceModel(dir, featurizer.buckets);
  const categoryWide = await readStreamCategoryWide(dir, manifest, featurizer.buckets);
  const head = await readLayersModel(tf, join(dir, 'text'));
  let autoencoder: LayersModel;
  try {
    autoencoder = await readLayersModel(tf, join(dir, 'autoencoder'));
  } catch (err) {
    head.dispose();
    throw err;
  }
  return { manifest, featurizer, embedding, head, wide, autoencoder, outlier, ...(sentences ? { sentences } : {}), ...(categoryWide ? { categoryWide } : {}) };
}
