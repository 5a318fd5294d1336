/**
 * deploy/k8s: every manifest parsed (multi-document YAML) and checked for what a cluster needs: kinds,
 * labels that selectors match, probes on served paths, resources, the HPA's target, image, and
 * DRIFTLINE_* settings that exist and parse.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments, parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SettingsDeclaration, SettingsSpec } from '../../core/config.js';
import { repoPath } from '../../core/paths.js';
import { catalogEnvNames, loadSettingsCatalog } from './support.js';

interface Meta { name: string; namespace?: string; labels?: Record<string, string> }
interface Probe { httpGet?: { path: string; port: string | number } }
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec { containers: Container[]; initContainers?: Container[]; volumes?: Array<{ name: string; persistentVolumeClaim?: { claimName: string } }> }
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: { metadata: Meta; spec: PodSpec };
    ports?: Array<{ port: number; targetPort: string | number }>;
    scaleTargetRef?: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
    metrics?: Array<{ type: string; resource?: { name: string } }>;
  };
}

const DIR = repoPath('deploy/k8s');
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const resources: Resource[] = FILES.flatMap((file) =>
  parseAllDocuments(readFileSync(`${DIR}/${file}`, 'utf8')).map((doc) => {
    expect(doc.errors, file).toEqual([]);
    return doc.toJS() as Resource;
  }),
);

/** Paths the streaming components' metrics server answers (parsed from core/metrics.ts, so this follows it). */
const METRICS_SERVER_PATHS = [...readFileSync(repoPath('core/metrics.ts'), 'utf8').matchAll(/req\.url === '([^']+)'/g)].map((m) => m[1]);

/** The component each Deployment runs, with the settings that choose its port and listen address. */
const COMPONENTS: Record<string, { port: number; portEnv: string; hostEnv: string; readiness: string[] }> = {
  scorer: { port: 9464, portEnv: 'DRIFTLINE_SCORER_METRICS_PORT', hostEnv: 'DRIFTLINE_SCORER_METRICS_HOST', readiness: METRICS_SERVER_PATHS.includes('/ready') ? ['/ready'] : ['/health'] },
  aggregator: { port: 9465, portEnv: 'DRIFTLINE_AGGREGATOR_METRICS_PORT', hostEnv: 'DRIFTLINE_AGGREGATOR_METRICS_HOST', readiness: METRICS_SERVER_PATHS.includes('/ready') ? ['/ready'] : ['/health'] },
  api: { port: 8080, portEnv: 'DRIFTLINE_API_PORT', hostEnv: 'DRIFTLINE_API_HOST', readiness: ['/ready'] },
};

function find(kind: string, name: string): Resource {
  const found = resources.find((r) => r.kind === kind && r.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/k8s`);
  return found;
}

function deployment(component: string): { resource: Resource; container: Container; pod: PodSpec } {
  const resource = find('Deployment', `driftline-${component}`);
  const pod = resource.spec!.template!.spec;
  return { resource, pod, container: pod.containers[0]! };
}

function subsetOf(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Kubernetes quantity → number (CPU in cores, memory in bytes). */
function quantity(value: string): number {
  const match = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(value);
  if (!match) throw new Error(`bad quantity ${value}`);
  const factor: Record<string, number> = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * (match[2] ? factor[match[2]]! : 1);
}

function probePort(container: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  return typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
}

describe('deploy/k8s manifests', () => {
  let catalog: SettingsDeclaration<SettingsSpec>[];
  let known: Set<string>;
  const config = find('ConfigMap', 'driftline-config');

  beforeAll(async () => {
    catalog = await loadSettingsCatalog();
    known = catalogEnvNames(catalog);
  });

  it('has the expected kinds', () => {
    const kinds = resources.map((r) => `${r.kind}/${r.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/driftline',
        'ConfigMap/driftline-config',
        'PersistentVolumeClaim/driftline-registry',
        'Deployment/driftline-scorer',
        'Deployment/driftline-aggregator',
        'Deployment/driftline-api',
        'Service/driftline-api',
        'HorizontalPodAutoscaler/driftline-api',
        'Job/driftline-setup',
      ]),
    );
  });

  it('puts every namespaced resource in the driftline namespace, and the kustomization lists every file', () => {
    for (const r of resources.filter((x) => x.kind !== 'Namespace')) expect(r.metadata.namespace, `${r.kind}/${r.metadata.name}`).toBe('driftline');
    const kustomization = parse(readFileSync(`${DIR}/kustomization.yaml`, 'utf8')) as { resources: string[]; namespace: string };
    expect([...kustomization.resources].sort()).toEqual([...FILES].sort());
    expect(kustomization.namespace).toBe('driftline');
  });

  for (const [component, spec] of Object.entries(COMPONENTS)) {
    describe(`Deployment driftline-${component}`, () => {
      it('selector matches the pod labels, and runs `driftline <component>` from the one image', () => {
        const { resource, container } = deployment(component);
        expect(subsetOf(resource.spec?.selector?.matchLabels, resource.spec?.template?.metadata.labels)).toBe(true);
        expect(container.args).toEqual([component]);
        expect(container.image).toMatch(/^driftline:\d+\.\d+\.\d+$/);
      });

      it('probes liveness on /health and readiness on a path the process serves', () => {
        const { container } = deployment(component);
        expect(container.livenessProbe?.httpGet?.path).toBe('/health');
        expect(spec.readiness).toContain(container.readinessProbe?.httpGet?.path);
        expect(probePort(container, container.livenessProbe)).toBe(spec.port);
        expect(probePort(container, container.readinessProbe)).toBe(spec.port);
      });

      it('requests and limits CPU and memory, requests within limits', () => {
        const { container } = deployment(component);
        for (const resource of ['cpu', 'memory']) {
          const request = container.resources?.requests?.[resource];
          const limit = container.resources?.limits?.[resource];
          expect(request, resource).toBeDefined();
          expect(limit, resource).toBeDefined();
          expect(quantity(request!)).toBeLessThanOrEqual(quantity(limit!));
        }
      });

      it('is configured by declared DRIFTLINE_* settings that parse, listening on all interfaces', () => {
        const { container, pod } = deployment(component);
        expect(container.envFrom?.map((e) => e.configMapRef?.name)).toContain(config.metadata.name);
        const values: Record<string, string> = { ...config.data };
        for (const variable of container.env ?? []) {
          expect(known.has(variable.name), `${variable.name} is not a declared setting`).toBe(true);
          if (variable.value !== undefined) values[variable.name] = variable.value;
          else expect(variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.fieldRef, variable.name).toBeDefined();
        }
        for (const declaration of catalog) expect(() => declaration.load(values), declaration.component).not.toThrow();
        expect(values[spec.portEnv]).toBe(String(spec.port));
        expect(values[spec.hostEnv], `${spec.hostEnv} must be 0.0.0.0 in a pod`).toBe('0.0.0.0');
        const registryMount = container.volumeMounts?.find((m) => m.mountPath === values.DRIFTLINE_REGISTRY_DIR);
        const registryVolume = pod.volumes?.find((v) => v.name === registryMount?.name);
        expect(registryVolume?.persistentVolumeClaim?.claimName).toBe('driftline-registry');
      });
    });
  }

  it('every workload container uses the one image, the shared ConfigMap, declared settings and bounded resources', () => {
    const workloads = resources.filter((r) => r.spec?.template);
    expect(workloads.map((w) => w.kind)).toEqual(expect.arrayContaining(['Deployment', 'Job']));
    const images = new Set<string>();
    for (const workload of workloads) {
      const pod = workload.spec!.template!.spec;
      for (const container of [...(pod.initContainers ?? []), ...pod.containers]) {
        const where = `${workload.kind}/${workload.metadata.name}/${container.name}`;
        images.add(container.image);
        expect(container.envFrom?.map((e) => e.configMapRef?.name), where).toContain(config.metadata.name);
        for (const variable of container.env ?? []) expect(known.has(variable.name), `${where}: ${variable.name}`).toBe(true);
        expect(container.resources?.requests?.memory, where).toBeDefined();
        expect(container.resources?.limits?.memory, where).toBeDefined();
      }
    }
    expect([...images]).toHaveLength(1);
  });

  it('the setup Job creates the topics, then seeds the registry with the model the scorer serves', () => {
    const job = find('Job', 'driftline-setup');
    const pod = job.spec!.template!.spec;
    expect(pod.initContainers?.map((c) => c.args)).toEqual([['topics']]);
    const scorerModel = deployment('scorer').container.env?.find((e) => e.name === 'DRIFTLINE_SCORER_MODEL_NAME')?.value;
    expect(pod.containers[0]?.args).toEqual(['models', 'seed', scorerModel, 'models/default', '--no-publish']);
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.mountPath === config.data?.DRIFTLINE_REGISTRY_DIR);
    expect(pod.volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName).toBe('driftline-registry');
  });

  it('only declared settings in the ConfigMap', () => {
    for (const key of Object.keys(config.data ?? {})) expect(known.has(key), key).toBe(true);
  });

  it('the API Service selects the API pods and targets their HTTP port', () => {
    const service = find('Service', 'driftline-api');
    const { resource, container } = deployment('api');
    expect(subsetOf(service.spec?.selector as Record<string, string>, resource.spec?.template?.metadata.labels)).toBe(true);
    const target = service.spec?.ports?.[0]?.targetPort;
    expect(container.ports?.some((p) => p.name === target || p.containerPort === target)).toBe(true);
  });

  it('the HorizontalPodAutoscaler scales the API Deployment, which leaves replicas to it', () => {
    const hpa = find('HorizontalPodAutoscaler', 'driftline-api');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'driftline-api' });
    expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec?.maxReplicas).toBeGreaterThan(hpa.spec!.minReplicas!);
    expect(hpa.spec?.metrics?.[0]?.resource?.name).toBe('cpu');
    expect(deployment('api').resource.spec?.replicas).toBeUndefined();
  });

  it('the scorer and aggregator run several instances (scaled by partitions, see docs/architecture.md)', () => {
    const partitions = Number(config.data?.DRIFTLINE_TOPIC_PARTITIONS);
    for (const component of ['scorer', 'aggregator']) {
      const replicas = deployment(component).resource.spec?.replicas ?? 1;
      expect(replicas).toBeGreaterThanOrEqual(2);
      expect(replicas).toBeLessThanOrEqual(partitions);
    }
  });
});
