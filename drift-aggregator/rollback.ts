/**
 * Automatic rollback: a version promoted to production less than DRIFTLINE_AUTO_ROLLBACK_MAX_AGE_MS
 * ago that is red on live performance (macro-F1) or outlier rate for DRIFTLINE_AUTO_ROLLBACK_WINDOWS
 * consecutive windows (all traffic) is rolled back to the previous production version. The counter
 * lives in Redis (so it survives restarts and is shared by instances); a per-version marker makes the
 * rollback happen once.
 */
import type { Kafka } from 'kafkajs';
import type { RedisClient } from '../core/redis.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { kafkaPromotionPublisher, promotionEvent, publishingRegistry } from '../core/model/promotions.js';
import { openRegistry, type ModelRegistry } from '../core/model/registry/index.js';
import type { ModelPromotion } from '../schemas/types.js';

export const ROLLBACK_METRICS: ReadonlySet<string> = new Set(['macro_f1', 'outlier_rate']);

export interface ProductionInfo {
  /** When the version last became production; null when it is not production now. */
  productionSinceMs: number | null;
}

/** What rollback needs of the model lifecycle (the registry in production, a fake in tests). */
export interface RollbackTarget {
  productionInfo(modelName: string, version: number): Promise<ProductionInfo>;
  /** Rolls the model back to its previous production version and publishes the ModelPromotion; returns it. */
  rollback(modelName: string, fromVersion: number, reason: string): Promise<ModelPromotion>;
}

/** The registry as rollback target: rollback + publish through core/model (publishingRegistry). */
export function registryRollbackTarget(registryDir: string, kafka: Kafka, promotionsTopic: string): RollbackTarget & { close(): Promise<void> } {
  const publisher = kafkaPromotionPublisher(kafka, promotionsTopic);
  const registry: ModelRegistry = publishingRegistry(openRegistry(registryDir), publisher);
  return {
    async productionInfo(modelName, version) {
      if ((await registry.productionVersion(modelName)) !== version) return { productionSinceMs: null };
      const record = await registry.get(modelName, version);
      const entered = [...record.stage_history].reverse().find((entry) => entry.to_stage === 'production');
      return { productionSinceMs: entered?.at_ms ?? record.created_at_ms };
    },
    async rollback(modelName, fromVersion, reason) {
      // Only the version that turned red is rolled back: if production moved meanwhile, nothing happens.
      const production = await registry.productionVersion(modelName);
      if (production !== fromVersion) {
        throw new DriftlineError('PROMOTION_REFUSED', `auto-rollback of ${modelName} v${fromVersion} skipped: production is v${String(production)}`);
      }
      const result = await registry.rollback(modelName, { actor: 'drift-aggregator', reason });
      return promotionEvent(result.change);
    },
    close: () => publisher.close(),
  };
}

export interface RollbackPolicy {
  enabled: boolean;
  maxAgeMs: number;
  windows: number;
}

export interface RollbackDecision {
  consecutiveRed: number;
  rolledBack: ModelPromotion | null;
}

/**
 * Records one closed window's verdict for a version and rolls back when the policy says so. `red` is
 * true when macro-F1 or outlier rate is red after hysteresis. Windows are counted once each (the
 * counter remembers the last window start), so a re-closed window does not count twice.
 */
export async function recordWindowForRollback(
  deps: { redis: RedisClient; keyPrefix: string; target: RollbackTarget | null; policy: RollbackPolicy; log: Logger; nowMs: () => number; ttlSeconds?: number },
  modelName: string,
  version: number,
  windowStart: number,
  red: boolean,
  reasonDetail: string,
): Promise<RollbackDecision> {
  const key = `${deps.keyPrefix}rollback:${modelName}:${version}`;
  const state = await deps.redis.hgetall(key);
  const lastWindow = state.last_window === undefined ? null : Number(state.last_window);
  // Re-closing the same window starts again from the count before it.
  const before = lastWindow === windowStart ? Number(state.before ?? 0) : Number(state.consecutive ?? 0);
  const consecutive = red ? before + 1 : 0;
  await deps.redis.hset(key, { last_window: windowStart, before, consecutive });
  // Bounded: a version that closes no window for ttlSeconds (default 7 days) forgets its streak.
  const ttlSeconds = deps.ttlSeconds ?? 7 * 86_400;
  await deps.redis.expire(key, ttlSeconds);
  if (!deps.policy.enabled || !deps.target || consecutive < deps.policy.windows) return { consecutiveRed: consecutive, rolledBack: null };
  const info = await deps.target.productionInfo(modelName, version);
  if (info.productionSinceMs === null || deps.nowMs() - info.productionSinceMs > deps.policy.maxAgeMs) return { consecutiveRed: consecutive, rolledBack: null };
  // Once per version, across instances and restarts.
  if ((await deps.redis.set(`${key}:fired`, String(deps.nowMs()), 'EX', ttlSeconds, 'NX')) !== 'OK') return { consecutiveRed: consecutive, rolledBack: null };
  const reason = `auto-rollback: ${modelName} v${version} red for ${consecutive} consecutive windows (${reasonDetail})`;
  try {
    const event = await deps.target.rollback(modelName, version, reason);
    deps.log.warn({ model: modelName, version, to: event.version, reason }, 'automatic rollback published');
    return { consecutiveRed: consecutive, rolledBack: event };
  } catch (err) {
    await deps.redis.del(`${key}:fired`);
    deps.log.error({ err: toDriftlineError(err).toJSON(), model: modelName, version }, 'automatic rollback failed');
    return { consecutiveRed: consecutive, rolledBack: null };
  }
}
