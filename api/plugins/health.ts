/**
 * GET /health (liveness: the process answers and is not stuck), GET /ready (it can serve: model loaded +
 * promotions followed), GET /metrics. /health fails only when the process cannot serve and will not recover
 * by itself: no model is loaded and the last load gave up (a failed model check, or every retry failed),
 * so the orchestrator restarts it instead of leaving it not-ready for good.
 */
import type { FastifyPluginAsync } from 'fastify';
import { DriftlineError } from '../../core/errors.js';
import type { ModelService } from '../../core/model/types.js';
import type { ApiMetrics } from '../metrics.js';
import { errorResponses, modelRefSchema } from '../schemas/common.js';

/** What /ready needs of the promotion follower (core/model/promotions.ts PromotionFollower). */
export interface FollowerStatus {
  isConnected(): boolean;
}

export interface HealthPluginOptions {
  modelService: ModelService;
  follower: FollowerStatus | undefined;
  metrics: ApiMetrics;
  isDraining: () => boolean;
}

const checksSchema = {
  type: 'object',
  properties: {
    model: { type: 'boolean' },
    promotion_follower: { type: ['boolean', 'string'], description: "'disabled' when promotions are not followed" },
  },
} as const;

export const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = async (app, options) => {
  const { modelService, follower, metrics } = options;

  app.get('/health', {
    schema: {
      tags: ['health'],
      summary: 'Liveness: the process answers and is not stuck without a model (an error answer carries the code the last model load gave up with: restart the process)',
      response: { 200: { type: 'object', properties: { status: { type: 'string' } } }, ...errorResponses(500, 503) },
    },
    handler: async () => {
      const { alive, error } = modelService.liveness();
      if (!alive && error) {
        // The load error's own message may name paths of the host; the logs have it.
        throw new DriftlineError(error.code, 'Not alive: no model is loaded and loading it gave up (see the logs); restart the process.', { details: { restart: true } });
      }
      return { status: 'ok' };
    },
  });

  app.get('/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness: a model is loaded and the promotion follower is connected (503 says which is missing)',
      response: {
        200: { type: 'object', properties: { status: { type: 'string' }, model: modelRefSchema, checks: checksSchema } },
        ...errorResponses(503),
      },
    },
    handler: async () => {
      if (options.isDraining()) throw new DriftlineError('SHUTTING_DOWN', 'The API is shutting down.');
      const modelReady = modelService.isReady();
      const followerState = follower === undefined ? 'disabled' : follower.isConnected();
      const checks = { model: modelReady, promotion_follower: followerState };
      const missing: string[] = [];
      if (!modelReady) missing.push('model');
      if (followerState === false) missing.push('promotion_follower');
      if (missing.length > 0) {
        // The model is the more fundamental gap; its code says "retry later" either way.
        const code = modelReady ? 'KAFKA_UNAVAILABLE' : 'MODEL_NOT_READY';
        const what = missing.map((m) => (m === 'model' ? 'no model is loaded yet' : 'the promotion follower is not connected to Kafka')).join('; ');
        throw new DriftlineError(code, `Not ready: ${what}.`, { details: { missing, checks } });
      }
      const runtime = modelService.current();
      return { status: 'ready', model: { name: runtime.name, version: runtime.version }, checks };
    },
  });

  app.get('/metrics', {
    schema: { tags: ['health'], summary: 'Prometheus metrics (text exposition format)' },
    handler: async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  });
};
