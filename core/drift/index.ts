/** The drift core in one import: metrics, status rules, thresholds, window assessment. */
export type { BinnedDistribution, DriftMetric, DriftMetricName, MetricResult } from './types.js';
export * from './metrics.js';
export * from './stats.js';
export * from './status.js';
export * from './config.js';
export * from './distribution.js';
export * from './evaluate.js';
export * from './calibration.js';
export * from './cbpe.js';
