/**
 * The house plan (docs/architecture.md, "Layers"): imports point down, cli → components → core → schemas,
 * a component is used by others only through its index.ts, and no two product files import each other
 * through a cycle. This test reads every import and export-from of the product code and fails on one
 * that breaks a rule, naming the file, the import and the rule.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoPath } from '../../core/paths.js';

const COMPONENTS = ['ingest', 'scorer', 'drift-aggregator', 'trainer', 'api'] as const;
const LAYER: Record<string, number> = { schemas: 0, core: 1, cli: 3 };
for (const component of COMPONENTS) LAYER[component] = 2;
/**
 * A component's public files. index.ts is its library face; the CLI layer may also load a component's
 * cli.ts (its commands, loaded lazily so `driftline ingest` does not load tfjs) and config.ts (its
 * settings, for the generated configuration table).
 */
const CLI_FACES = new Set(['index.ts', 'cli.ts', 'config.ts']);

const IMPORT_PATTERN = /(?:^|\n)\s*(?:import|export)\s[^;'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

interface ImportEdge {
  from: string;
  to: string;
}

function productFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(repoPath(dir))) {
      const path = join(dir, name);
      if (statSync(repoPath(path)).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const top of Object.keys(LAYER)) walk(top);
  return files;
}

function importsOf(file: string): ImportEdge[] {
  const source = readFileSync(repoPath(file), 'utf8');
  const edges: ImportEdge[] = [];
  for (const match of source.matchAll(IMPORT_PATTERN)) {
    const specifier = match[1] ?? match[2];
    if (specifier === undefined) continue;
    const target = normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts');
    edges.push({ from: file, to: target });
  }
  return edges;
}

const topOf = (path: string): string => path.split('/')[0] ?? '';

/** Why an import breaks the layer rules, or null when it keeps them. */
export function layerViolation(edge: ImportEdge): string | null {
  const fromTop = topOf(edge.from);
  const toTop = topOf(edge.to);
  if (!(toTop in LAYER)) return `imports ${edge.to}, outside the product layers`;
  if (fromTop === toTop) return null;
  const fromLayer = LAYER[fromTop] ?? -1;
  const toLayer = LAYER[toTop] ?? -1;
  if (toLayer > fromLayer) return `${fromTop} (layer ${fromLayer}) imports ${toTop} (layer ${toLayer}): imports must point down`;
  if (toLayer === 2) {
    const face = relative(toTop, edge.to);
    const allowed = fromTop === 'cli' ? CLI_FACES.has(face) : face === 'index.ts';
    if (!allowed) return `imports ${edge.to}: another component is used through its index.ts only`;
  }
  return null;
}

/** Every import cycle among the files, each as the list of files around it. */
function cycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const edge of edges) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of next.get(file) ?? []) {
      const seen = state.get(target);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(target)), target]);
      else if (seen === undefined) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of next.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('layers', () => {
  const edges = productFiles().flatMap(importsOf);

  it('reads the product imports (the pattern finds them)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges).toContainEqual({ from: 'cli/main.ts', to: 'core/cli.ts' });
  });

  it('every import points down, and into another component only through its public face', () => {
    const violations = edges.flatMap((edge) => {
      const why = layerViolation(edge);
      return why ? [`${edge.from}: ${why}`] : [];
    });
    expect(violations).toEqual([]);
  });

  it('no import cycle between product files (type-only imports included)', () => {
    expect(cycles(edges).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('the rules catch what they must (an upward, a sideways and an internal import)', () => {
    expect(layerViolation({ from: 'core/kafka.ts', to: 'scorer/config.ts' })).toMatch(/must point down/);
    expect(layerViolation({ from: 'schemas/types.ts', to: 'core/avro.ts' })).toMatch(/must point down/);
    expect(layerViolation({ from: 'api/server.ts', to: 'trainer/train.ts' })).toMatch(/index\.ts only/);
    expect(layerViolation({ from: 'cli/demo.ts', to: 'scorer/app.ts' })).toMatch(/index\.ts only/);
    expect(layerViolation({ from: 'api/server.ts', to: 'trainer/index.ts' })).toBeNull();
    expect(layerViolation({ from: 'cli/main.ts', to: 'ingest/cli.ts' })).toBeNull();
  });
});
