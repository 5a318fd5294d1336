/** The drift aggregator's public face: the service, its settings and the registry's baselines. */
export { registryBaselineProvider } from './baselines.js';
export type { ClosedWindow } from './closer.js';
export { aggregatorSettings } from './config.js';
export { AggregatorService } from './service.js';
export { aggregatorService, type AggregatorParts } from './run.js';
export { alertLine, changeKind } from './alert-webhook.js';
