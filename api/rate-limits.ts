/**
 * Per-client rate limits of the public routes (@fastify/rate-limit, in-memory, per API process).
 * A client is a source IP (IPv6 by /56 subnet, the plugin's default); behind a proxy, set Fastify's
 * trustProxy so that is the caller's address. Each route has its own count per client, checked
 * onRequest, before the body is read. Over the limit: 429 RATE_LIMITED (the common error body) with
 * Retry-After. Health, readiness and metrics are never limited; admin routes need the admin token
 * (and evaluate, which scores two datasets, has the heavy limit as well).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { DriftlineError } from '../core/errors.js';
import type { ApiSettings } from './config.js';

type LimitClass = 'predict' | 'read' | 'heavy';

/** `METHOD url` (HEAD counts as GET) → its limit class. */
export const LIMITED_ROUTES: Readonly<Record<string, LimitClass>> = {
  'POST /v1/predict': 'predict',
  'GET /v1/drift': 'read',
  'GET /v1/drift/windows': 'read',
  'GET /v1/models': 'read',
  'GET /v1/models/:name': 'read',
  'POST /v1/drift/compare': 'heavy',
  'POST /v1/evaluate': 'heavy',
};

/** Most clients whose counts are remembered per route (least recently seen forgotten first). */
const CLIENTS_REMEMBERED = 10_000;

function limitOf(settings: ApiSettings, limitClass: LimitClass): number {
  if (limitClass === 'predict') return settings.rateLimitPredict;
  return limitClass === 'read' ? settings.rateLimitRead : settings.rateLimitHeavy;
}

/** Must be registered before the route plugins: it tags their routes as they are added. */
export async function registerRateLimits(app: FastifyInstance, settings: ApiSettings): Promise<void> {
  const windowSeconds = Math.ceil(settings.rateLimitWindowMs / 1000);
  // Runs before the plugin's own onRoute hook, which reads config.rateLimit.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const limitClass = LIMITED_ROUTES[`${method === 'HEAD' ? 'GET' : method} ${route.url}`];
      const max = limitClass === undefined ? 0 : limitOf(settings, limitClass);
      if (max > 0) route.config = { ...route.config, rateLimit: { max, timeWindow: settings.rateLimitWindowMs } };
    }
  });
  await app.register(rateLimit, {
    global: false,
    cache: CLIENTS_REMEMBERED,
    errorResponseBuilder: (_request, context) =>
      new DriftlineError('RATE_LIMITED', `Too many requests to this route from your address (limit ${context.max} per ${windowSeconds} s); retry in ${context.after}.`, {
        details: { limit: context.max, window_seconds: windowSeconds },
      }),
  });
}
