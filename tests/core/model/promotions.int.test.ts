/**
 * Promotion events on the real broker: publish -> followPromotions (own group per process) -> ModelService
 * swap, with two versions registered from copies of the shipped model (models/default).
 */
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners, type Kafka } from 'kafkajs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelPromotion } from '../../../schemas/types.js';
import { codecFor } from '../../../core/avro.js';
import { coreSettings } from '../../../core/config.js';
import { createKafka, ensureTopics } from '../../../core/kafka.js';
import { repoPath } from '../../../core/paths.js';
import { followPromotions, kafkaPromotionPublisher, publishPromotion, publishingRegistry, type PromotionFollower } from '../../../core/model/promotions.js';
import { openRegistry, type ModelRegistry } from '../../../core/model/registry/index.js';
import { createModelService, type ManagedModelService } from '../../../core/model/service.js';

const silent = pino({ level: 'silent' });
const settings = coreSettings.load();
let kafka: Kafka;
let topic: string;
const followers: PromotionFollower[] = [];

async function waitFor(what: string, condition: () => boolean, boundMs = 60_000): Promise<void> {
  const until = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`gave up waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function event(overrides: Partial<ModelPromotion>): ModelPromotion {
  return {
    event_id: randomUUID(),
    model_name: 'sentiment',
    version: 2,
    action: 'promote',
    from_stage: 'staging',
    to_stage: 'production',
    previous_production_version: 1,
    reason: 'test',
    actor: 'promotions.int.test',
    time_ms: Date.now(),
    ...overrides,
  };
}

beforeAll(async () => {
  kafka = createKafka(settings, 'promotions-test');
  topic = `t-${randomUUID()}-promotions`;
  await ensureTopics(kafka, [topic], settings);
});
afterAll(async () => {
  for (const follower of followers) await follower.stop();
});

describe('followPromotions', () => {
  it('delivers every event to every process (own group each), skips undecodable and other-model events', async () => {
    const seenA: ModelPromotion[] = [];
    const seenB: ModelPromotion[] = [];
    const a = await followPromotions({ kafka, topic, modelName: 'sentiment', onEvent: (e) => void seenA.push(e), logger: silent });
    const b = await followPromotions({ kafka, topic, modelName: 'sentiment', onEvent: (e) => void seenB.push(e), logger: silent });
    followers.push(a, b);
    expect(a.groupId).not.toBe(b.groupId);
    expect(a.isConnected()).toBe(true);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: 'sentiment', value: Buffer.from('not avro at all') }] });
    } finally {
      await producer.disconnect();
    }
    const mine = event({});
    await publishPromotion(kafka, topic, event({ model_name: 'other-model' }));
    await publishPromotion(kafka, topic, mine);

    await waitFor('both followers to receive the event', () => seenA.length === 1 && seenB.length === 1);
    expect(seenA[0]).toEqual(mine);
    expect(seenB[0]).toEqual(mine);
    await waitFor('all three messages counted', () => a.stats().received === 3);
    expect(a.stats()).toMatchObject({ received: 3, delivered: 1, ignored: 1, undecodable: 1, listenerErrors: 0 });
    expect(a.isConnected()).toBe(true); // a garbage message never crashes the follower

    await a.stop();
    expect(a.isConnected()).toBe(false);
  });

  it('starts at the end of the topic: events published before it started are not replayed', async () => {
    const seen: ModelPromotion[] = [];
    const late = await followPromotions({ kafka, topic, modelName: 'sentiment', onEvent: (e) => void seen.push(e), logger: silent });
    followers.push(late);
    const fresh = event({ version: 7 });
    await publishPromotion(kafka, topic, fresh);
    await waitFor('the new event', () => seen.length >= 1);
    expect(seen.map((e) => e.event_id)).toEqual([fresh.event_id]);
  });
});

const shippedModel = repoPath('models', 'default');

describe('promotion -> ModelService hot swap (models/default)', () => {
  let dir: string;
  let registry: ModelRegistry;
  let service: ManagedModelService;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftline-promotions-'));
    registry = openRegistry(join(dir, 'registry'));
    await registry.seedFromDirectory('sentiment', shippedModel);
    const v1 = await registry.get('sentiment', 1);
    await registry.register({
      name: 'sentiment',
      writeArtifacts: (target) => cp(registry.versionDir('sentiment', 1), target, { recursive: true }),
      metrics: { ...v1.metrics },
      baseline: await registry.baseline('sentiment', 1),
      featurizer: v1.featurizer,
      dataFingerprint: v1.data_fingerprint,
      params: { copyOf: 1 },
      timings: {},
    });
    service = createModelService({ registry, modelName: 'sentiment', logger: silent, disposeGraceMs: 0, reconcileIntervalMs: 0 });
    await service.loadProduction();
  });
  afterAll(async () => {
    await service?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a published promotion makes a following ModelService swap; a rollback swaps back', async () => {
    const follower = await followPromotions({ kafka, topic, modelName: 'sentiment', logger: silent });
    followers.push(follower);
    const detach = service.attachPromotions(follower);
    const swaps: number[] = [];
    service.onSwap((next) => swaps.push(next.version));
    expect(service.current().version).toBe(1);

    const publisher = kafkaPromotionPublisher(kafka, topic);
    const publishing = publishingRegistry(registry, publisher);
    try {
      const promoted = await publishing.promote('sentiment', 2, { actor: 'test', reason: 'same quality, new version' });
      expect(promoted.change.previous_production_version).toBe(1);
      await waitFor('the service to swap to v2', () => service.current().version === 2);
      const predictions = await service.current().score([{ review_id: 'r1', text: 'Absolutely love it, works great.' }]);
      expect(predictions).toHaveLength(1);
      expect(predictions[0]!.review_id).toBe('r1');

      await publishing.rollback('sentiment', { actor: 'test', reason: 'drill' });
      await waitFor('the service to swap back to v1', () => service.current().version === 1);
      expect(swaps).toEqual([2, 1]);
      expect(service.stats()).toMatchObject({ version: 1, swapFailures: 0 });
    } finally {
      detach();
      await publisher.close();
    }
  });
});

it('the ModelPromotion codec round-trips what the registry publishes', () => {
  const sample = event({ from_stage: null, previous_production_version: null, reason: null });
  expect(codecFor('ModelPromotion').decode(codecFor('ModelPromotion').encode(sample))).toEqual(sample);
});
