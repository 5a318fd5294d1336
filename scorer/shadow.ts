/**
 * Shadow scoring (DRIFTLINE_SHADOW=staging): the scorer keeps the newest `staging` version of its model
 * that is newer than production loaded beside production, and scorer/batch.ts scores every transaction
 * batch with it too, publishing those events to the shadow topic inside the same transaction.
 *
 * Which candidate: re-read from the registry on start and on every registration / promotion event of the
 * model (the promotions follower the scorer already has), and on a re-join of that follower (events may
 * have been missed). A candidate that fails to load is logged and counted, and no shadow model runs until
 * the next event names one; production scoring never waits for a shadow load (it runs in the background).
 * When nothing is staged, no candidate is loaded and a batch pays one undefined check.
 */
import { toDriftlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { PromotionFollower } from '../core/model/promotions.js';
import type { ModelRegistry, ModelVersionRecord } from '../core/model/registry/index.js';
import type { ManagedModelService } from '../core/model/service.js';
import type { ModelRuntime } from '../core/model/types.js';
import type { ScorerMetrics } from './metrics.js';
import { warmUp } from './warmup.js';

/** The newest staging version newer than the newest production version (null: none). */
export function shadowCandidate(records: readonly Pick<ModelVersionRecord, 'version' | 'stage'>[]): number | null {
  const production = Math.max(0, ...records.filter((r) => r.stage === 'production').map((r) => r.version));
  const staged = records.filter((r) => r.stage === 'staging' && r.version > production).map((r) => r.version);
  return staged.length === 0 ? null : Math.max(...staged);
}

/** What the batch handler asks of the shadow side: the loaded candidate, if any. */
export interface ShadowSource {
  current(): ModelRuntime | undefined;
}

export interface ShadowModelsDeps {
  registry: Pick<ModelRegistry, 'list'>;
  modelName: string;
  /** A model service of its own for the candidate (its own workers; closed when no candidate is left). */
  createService(): ManagedModelService;
  metrics: Pick<ScorerMetrics, 'shadowFailures' | 'shadowModelVersion'>;
  log: Logger;
  /** Runs the candidate's hot path once before it scores batches (default scorer/warmup.ts). */
  warm?: (runtime: ModelRuntime) => Promise<unknown>;
}

export class ShadowModels implements ShadowSource {
  private service: ManagedModelService | undefined;
  /** The warmed candidate the batches score with (undefined while none is loaded, or while it loads and warms). */
  private active: ModelRuntime | undefined;
  /** The candidate version `service` serves (null: none). */
  private loadedVersion: number | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly detachers: Array<() => void> = [];

  constructor(private readonly deps: ShadowModelsDeps) {}

  current(): ModelRuntime | undefined {
    return this.active;
  }

  /** Re-reads the registry and loads, swaps or drops the candidate; serialized, never rejects. */
  refresh(why: string): Promise<void> {
    const run = this.queue.then(() => this.reconcile(why));
    this.queue = run.catch((err: unknown) => {
      this.deps.metrics.shadowFailures.inc({ stage: 'load' });
      this.deps.log.error({ err: toDriftlineError(err).toJSON(), why }, 'shadow candidate check failed; shadow scoring continues with what it had');
    });
    return this.queue;
  }

  /** Re-checks on every event of the model (register, promote, rollback, archive) and on a re-join. */
  attach(follower: PromotionFollower): void {
    this.detachers.push(
      follower.subscribe((event) => {
        if (event.model_name === this.deps.modelName) void this.refresh(`${event.action} of v${event.version}`);
      }),
      follower.onRejoin(() => void this.refresh('promotions follower re-joined')),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const detach of this.detachers.splice(0)) detach();
    // Closing the service first aborts a load still backing off, so stopping never waits for its retries.
    await this.service?.close();
    await this.queue;
    await this.drop();
  }

  private async reconcile(why: string): Promise<void> {
    if (this.closed) return;
    const { registry, modelName, metrics, log } = this.deps;
    const candidate = shadowCandidate(await registry.list(modelName));
    if (candidate === this.loadedVersion) return;
    if (candidate === null) {
      log.info({ model: modelName, previous: this.loadedVersion, why }, 'no staging candidate newer than production: shadow scoring stops');
      await this.drop();
      return;
    }
    log.info({ model: modelName, version: candidate, previous: this.loadedVersion, why }, 'loading the staging candidate for shadow scoring');
    // The older candidate goes first: it may be production by now, and must not shadow itself while the new one loads.
    await this.drop();
    this.service = this.deps.createService();
    let runtime: ModelRuntime;
    try {
      runtime = await this.service.swapTo(candidate);
      // Warmed before the first batch uses it, so its first batches do not run into the shadow time budget.
      await (this.deps.warm ?? warmUp)(runtime);
    } catch (err) {
      if (this.closed) return; // stopping: the load was cut off, not failed
      metrics.shadowFailures.inc({ stage: 'load' });
      log.error({ err: toDriftlineError(err).toJSON(), model: modelName, version: candidate }, 'shadow candidate could not be loaded; no shadow scoring until the next registry event');
      // Never keep scoring an older candidate in its place: it may be production by now.
      await this.drop();
      return;
    }
    this.loadedVersion = candidate;
    this.active = runtime;
    metrics.shadowModelVersion.set({ model_name: modelName }, candidate);
    log.info({ model: modelName, version: candidate }, 'shadow scoring with the staging candidate');
  }

  private async drop(): Promise<void> {
    const service = this.service;
    this.service = undefined;
    this.active = undefined;
    this.loadedVersion = null;
    this.deps.metrics.shadowModelVersion.set({ model_name: this.deps.modelName }, 0);
    await service?.close();
  }
}
