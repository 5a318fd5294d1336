/**
 * Helpers the benchmarks share: where results go, percentiles, and a description of the machine
 * (the figures only mean something next to the hardware and the load they were measured under).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
export { freePort } from '../core/net.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoPath } from '../core/paths.js';

/**
 * Whether this benchmark runs as built JavaScript (dist/bench/*.js, what `npm run bench` runs) rather than
 * as TypeScript through tsx. The product runs from dist/ (bin/driftline.js), so that is what is measured:
 * the same hot loops ran ~40% slower under tsx's on-the-fly transform on this machine.
 */
export const RUNNING_BUILT = fileURLToPath(import.meta.url).endsWith('.js');

/**
 * Node arguments that run one of the repository's entry points (given as its source path, e.g.
 * 'scorer/main.ts') the way this benchmark runs: dist/scorer/main.js when built, tsx on the source otherwise.
 */
export function entryArgs(sourcePath: string, args: readonly string[] = []): string[] {
  if (RUNNING_BUILT) return [repoPath('dist', sourcePath.replace(/\.ts$/, '.js')), ...args];
  return ['--import', 'tsx', repoPath(sourcePath), ...args];
}

/** bench/results/<name>.json */
export function resultPath(name: string): string {
  return repoPath('bench', 'results', `${name}.json`);
}

/** Writes bench/results/<name>.json (pretty JSON, trailing newline); returns the path relative to the repository. */
export function writeResult(name: string, result: unknown): string {
  mkdirSync(repoPath('bench', 'results'), { recursive: true });
  writeFileSync(resultPath(name), `${JSON.stringify(result, null, 2)}\n`);
  return `bench/results/${name}.json`;
}

/** Nearest-rank percentile (p in 0..100) of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The Kafka version of the local broker, from the jar scripts/services.sh runs it with
 * (kafka_2.13-<version>.jar in DRIFTLINE_KAFKA_JARS or .cache/kafka-jars); 'unknown' when not found.
 */
export function kafkaVersion(): string {
  const dir = process.env.DRIFTLINE_KAFKA_JARS ?? repoPath('.cache', 'kafka-jars');
  if (!existsSync(dir)) return 'unknown';
  const jar = readdirSync(dir).find((name) => /^kafka_[\d.]+-[\d.]+\.jar$/.test(name));
  return jar ? jar.replace(/^kafka_[\d.]+-/, '').replace(/\.jar$/, '') : 'unknown';
}

export interface MachineInfo {
  os: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  kafka: string;
  /** 1, 5 and 15 minute load averages when the info was taken. */
  loadAverage: number[];
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    os: `${osType()} ${release()}`,
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    memoryGb: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    kafka: kafkaVersion(),
    loadAverage: loadavg().map((value) => Number(value.toFixed(2))),
  };
}

/** The result files present, as [name, path] pairs sorted by name. */
export function resultFiles(): Array<[string, string]> {
  const dir = repoPath('bench', 'results');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name.slice(0, -'.json'.length), join(dir, name)]);
}

