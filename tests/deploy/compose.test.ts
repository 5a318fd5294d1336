/**
 * docker-compose.yml: validated by the Docker Compose CLI when one is installed (v2 plugin or the v1
 * `docker-compose` from Debian), and always parsed here for what the stack needs to work: services,
 * health checks, dependency order, DRIFTLINE_* names from the settings catalog with values that parse,
 * Prometheus targets that match the services' ports and listen addresses.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SettingsDeclaration, SettingsSpec } from '../../core/config.js';
import { repoPath } from '../../core/paths.js';
import { catalogEnvNames, DIRECT_ENV, interpolate, loadSettingsCatalog } from './support.js';

interface Healthcheck { test: string[] | string; interval?: string }
interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean>;
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  restart?: string;
  profiles?: string[];
  ports?: string[];
  volumes?: string[];
}
interface Compose { services: Record<string, Service>; volumes: Record<string, unknown> }

const COMPOSE_FILE = repoPath('docker-compose.yml');
const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as Compose;
const DRIFTLINE_SERVICES = ['topics', 'seed', 'scorer', 'aggregator', 'api'];
const LONG_RUNNING = ['kafka', 'redis', 'clickhouse', 'scorer', 'aggregator', 'api', 'prometheus', 'grafana'];

/** Services Prometheus scrapes, with the settings that choose their port and listen address. */
const SCRAPED: Record<string, { port: number; portEnv: string; hostEnv: string }> = {
  api: { port: 8080, portEnv: 'DRIFTLINE_API_PORT', hostEnv: 'DRIFTLINE_API_HOST' },
  scorer: { port: 9464, portEnv: 'DRIFTLINE_SCORER_METRICS_PORT', hostEnv: 'DRIFTLINE_SCORER_METRICS_HOST' },
  aggregator: { port: 9465, portEnv: 'DRIFTLINE_AGGREGATOR_METRICS_PORT', hostEnv: 'DRIFTLINE_AGGREGATOR_METRICS_HOST' },
};

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

function env(name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
}

/** The compose CLI available here, if any: `docker compose` (v2 plugin) first, else `docker-compose` (v1). */
function composeCli(): string[] | undefined {
  const candidates = [['docker', 'compose'], ['docker-compose']];
  return candidates.find(([cmd, ...args]) => spawnSync(cmd!, [...args, 'version'], { encoding: 'utf8' }).status === 0);
}

const cli = composeCli();

describe('docker-compose.yml', () => {
  let catalog: SettingsDeclaration<SettingsSpec>[];
  let known: Set<string>;

  beforeAll(async () => {
    catalog = await loadSettingsCatalog();
    known = catalogEnvNames(catalog);
  });

  it.skipIf(!cli)(`passes \`${(cli ?? ['docker', 'compose']).join(' ')} config -q\``, () => {
    const [cmd, ...args] = cli!;
    const result = spawnSync(cmd!, [...args, '-f', COMPOSE_FILE, 'config', '-q'], { encoding: 'utf8', cwd: repoPath() });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('has every service of the stack', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['kafka', 'topics', 'redis', 'clickhouse', 'prometheus', 'grafana', ...DRIFTLINE_SERVICES]),
    );
  });

  it('runs Kafka 3.9.1 in KRaft mode with an in-network and a host listener', () => {
    const kafka = env('kafka');
    expect(service('kafka').image).toBe('apache/kafka:3.9.1');
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const advertised = kafka.KAFKA_ADVERTISED_LISTENERS!.split(',');
    expect(advertised.some((l) => l.includes('localhost:'))).toBe(true);
    // Every container's bootstrap address is an advertised in-network listener.
    for (const name of DRIFTLINE_SERVICES) {
      for (const broker of env(name).DRIFTLINE_KAFKA_BROKERS!.split(',')) expect(advertised.map((l) => l.split('//')[1])).toContain(broker);
    }
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(kafka.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
  });

  it('creates topics with `driftline topics` once Kafka is healthy', () => {
    expect(service('topics').command).toEqual(['topics']);
    expect(service('topics').depends_on?.kafka?.condition).toBe('service_healthy');
  });

  it('builds every Driftline service from deploy/Dockerfile as one image', () => {
    for (const name of [...DRIFTLINE_SERVICES, 'ingest']) {
      expect(service(name).build, name).toEqual({ context: '.', dockerfile: 'deploy/Dockerfile' });
      expect(service(name).image, name).toBe('driftline:dev');
    }
    expect(service('scorer').command).toEqual(['scorer']);
    expect(service('aggregator').command).toEqual(['aggregator']);
    expect(service('api').command).toEqual(['api']);
  });

  it('runs two scorer replicas and publishes no fixed scorer port', () => {
    expect(service('scorer').deploy?.replicas).toBe(2);
    expect(service('scorer').ports).toBeUndefined();
  });

  it('gives every long-running service a health check', () => {
    for (const name of LONG_RUNNING) expect(service(name).healthcheck?.test, name).toBeDefined();
  });

  it('orders start-up on health and on finished one-shot jobs', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(svc.depends_on ?? {})) {
        const target = service(dependency);
        if (condition === 'service_healthy') expect(target.healthcheck, `${name} waits for ${dependency}'s health`).toBeDefined();
        else if (condition === 'service_completed_successfully') expect(target.restart, `${dependency} is a one-shot job`).toBe('no');
        else expect.fail(`${name} -> ${dependency}: unexpected condition ${condition}`);
      }
    }
  });

  it('uses only DRIFTLINE_* names from the settings catalog, with values the settings accept', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      const vars = env(name);
      for (const key of Object.keys(svc.environment ?? {}).filter((k) => k.startsWith('DRIFTLINE_'))) {
        if (DIRECT_ENV[key]) expect(readFileSync(repoPath(DIRECT_ENV[key]!), 'utf8'), key).toContain(key);
        else expect(known.has(key), `${name}: ${key} is not a declared setting`).toBe(true);
      }
      // Parsing throws CONFIG_INVALID on a value a setting rejects (bad int, unknown choice, ...).
      for (const declaration of catalog) expect(() => declaration.load(vars), `${name} / ${declaration.component}`).not.toThrow();
    }
  });

  it('interpolates only DRIFTLINE_* variables that are settings (or read directly by core)', () => {
    const source = readFileSync(COMPOSE_FILE, 'utf8');
    const interpolated = [...source.matchAll(/\$\{(DRIFTLINE_\w+)/g)].map((m) => m[1]!);
    expect(interpolated.length).toBeGreaterThan(0);
    for (const name of interpolated) expect(known.has(name) || name in DIRECT_ENV, name).toBe(true);
  });

  it('points every Driftline service at the compose Redis, ClickHouse server and shared registry volume', () => {
    const clickhouse = env('clickhouse');
    for (const name of DRIFTLINE_SERVICES) {
      const vars = env(name);
      expect(vars.DRIFTLINE_REDIS_URL).toMatch(/^redis:\/\/redis:6379\//);
      expect(vars.DRIFTLINE_CLICKHOUSE_URL).toBe('http://clickhouse:8123');
      expect(vars.DRIFTLINE_CLICKHOUSE_USER).toBe(clickhouse.CLICKHOUSE_USER);
      expect(vars.DRIFTLINE_CLICKHOUSE_PASSWORD).toBe(clickhouse.CLICKHOUSE_PASSWORD);
    }
    for (const name of ['seed', 'scorer', 'aggregator', 'api']) {
      const registry = env(name).DRIFTLINE_REGISTRY_DIR;
      expect(service(name).volumes, name).toContain(`registry:${registry}`);
    }
    expect(Object.keys(compose.volumes)).toContain('registry');
  });

  it('seeds the registry with the model the scorer and the API serve, before they start', () => {
    const model = env('scorer').DRIFTLINE_SCORER_MODEL_NAME;
    expect(env('api').DRIFTLINE_API_MODEL_NAME).toBe(model);
    expect(service('seed').command?.map((part) => interpolate(part))).toEqual(['models', 'seed', model, 'models/default', '--no-publish']);
    for (const name of ['scorer', 'aggregator', 'api']) expect(service(name).depends_on?.seed?.condition, name).toBe('service_completed_successfully');
  });

  it('exposes metrics on all interfaces at the ports Prometheus scrapes', () => {
    const prometheus = parse(readFileSync(repoPath('deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    const targets = prometheus.scrape_configs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((s) => s.targets),
      ...(job.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => `${n}:${d.port}`)),
    ]);
    for (const [name, { port, portEnv, hostEnv }] of Object.entries(SCRAPED)) {
      expect(targets, name).toContain(`${name}:${port}`);
      const vars = env(name);
      expect(vars[portEnv], `${name} ${portEnv}`).toBe(String(port));
      expect(vars[hostEnv], `${name} must listen on 0.0.0.0 (${hostEnv})`).toBe('0.0.0.0');
    }
  });

  it('provisions Grafana with the ClickHouse plugin, data source and dashboards', () => {
    const grafana = service('grafana');
    expect(env('grafana').GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource');
    expect(grafana.volumes).toEqual(expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro']));
    expect(env('grafana').CLICKHOUSE_PASSWORD).toBe(env('clickhouse').CLICKHOUSE_PASSWORD);
  });
});
