/** The drift aggregator's public face: the service, its settings and the registry's baselines. */
export { registryBaselineProvider } from './baselines.js';
export type { AggregatorDeps, AggregatorParts, ClosedWindow } from './types.js';
export { aggregatorSettings } from './config.js';
export { AggregatorService } from './service.js';
export { aggregatorService } from './run.js';
export { alertLine, changeKind } from './alert-webhook.js';
