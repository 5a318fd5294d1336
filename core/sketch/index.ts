/** The sketch family: one import for the aggregator, the trainer and the dataset comparison. */
export type { Sketch, RedisHashSketch, SketchIncrements } from './types.js';
export { BinnedHistogramSketch, type HistogramState } from './histogram.js';
export { CategoricalCountSketch, OTHER_LABEL, UNSEEN_LABEL, type CategoricalState, type CategoricalSketchOptions } from './categorical.js';
export { SummarySketch, ratingLabel, type SummaryState, type SummaryValue } from './summary.js';
export { ExpectedConfusionSketch, type ExpectedConfusionState, type ExpectedConfusionValue } from './expected-confusion.js';
export { REDIS_APPLY_INCREMENTS_LUA, applyIncrementsInMemory, binBlobField, expandBinBlobs, incrementsToLuaArgs, isEmptyIncrements, mergeIncrements, unpackBinPairs } from './redis-increments.js';
export { sketchFormatError } from './codec.js';
export { EmbeddingSketch, type EmbeddingFeatures, type EmbeddingState } from './embedding.js';
