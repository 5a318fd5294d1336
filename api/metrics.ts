/** The API's Prometheus metrics, in the process's one registry (served at GET /metrics). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createMetricsRegistry } from '../core/metrics.js';

export interface ApiMetrics {
  registry: Registry;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route' | 'method'>;
  inFlight: Gauge;
  predictions: Counter<'sentiment' | 'model_version'>;
  predictionItemErrors: Counter<'code'>;
  replacementChar: Counter<string>;
  modelVersion: Gauge<'model'>;
  modelSwaps: Counter<'model'>;
  jobs: Counter<'status'>;
}

// Sub-millisecond to seconds: single predictions sit around 1-5 ms, batches and admin calls far above.
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createApiMetrics(registry: Registry = createMetricsRegistry('api')): ApiMetrics {
  return {
    registry,
    httpRequests: new Counter({
      name: 'driftline_api_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'driftline_api_http_request_duration_seconds',
      help: 'Time from request received to response sent, by route pattern.',
      labelNames: ['route', 'method'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'driftline_api_http_requests_in_flight',
      help: 'Requests received and not yet answered.',
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'driftline_api_predictions_total',
      help: 'Reviews scored by the API, by predicted sentiment and model version.',
      labelNames: ['sentiment', 'model_version'],
      registers: [registry],
    }),
    predictionItemErrors: new Counter({
      name: 'driftline_api_prediction_item_errors_total',
      help: 'Batch items refused (partial answers and whole-request refusals), by error code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    replacementChar: new Counter({
      name: 'driftline_api_replacement_char_total',
      help: 'Reviews scored whose text or title contains U+FFFD (valid text an upstream decoder left behind).',
      registers: [registry],
    }),
    modelVersion: new Gauge({
      name: 'driftline_api_model_version',
      help: 'Version of the model this API process serves (0 before the first load).',
      labelNames: ['model'],
      registers: [registry],
    }),
    modelSwaps: new Counter({
      name: 'driftline_api_model_swaps_total',
      help: 'Hot model swaps completed by this API process.',
      labelNames: ['model'],
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'driftline_api_training_jobs_total',
      help: 'Training jobs finished, by final status.',
      labelNames: ['status'],
      registers: [registry],
    }),
  };
}
