/**
 * Top-N summary of a V8 .cpuprofile (`node --cpu-prof`): self time by function and by package, so a
 * profile's findings fit in a small text file under bench/profiles/ (the raw profiles are megabytes).
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [topN]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package (node_modules/<name>), the repository folder (scorer/, core/…) or a V8/Node bucket a frame belongs to. */
function bucketOf(url: string, name: string): string {
  if (url === '') return `(${name || 'native'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const own = /\/(?:dist\/)?(scorer|core|api|drift-aggregator|ingest|schemas|trainer|bench|cli)\//.exec(url);
  return own ? `${own[1]}/` : url;
}

/**
 * What a sample's stack was doing, for a Kafka service's main thread: the first rule that matches any frame
 * of the stack (url + function name) names it, so time spent deep in Buffer or socket code is charged to the
 * kafkajs path that called it; GC and (program) are their own.
 */
const STAGES: ReadonlyArray<[string, RegExp]> = [
  ['kafkajs produce: record/batch encoding, CRC32C, produce request', /kafkajs\/src\/(producer|protocol\/(recordBatch|requests\/produce|message))/],
  ['kafkajs fetch: response decoding, batches', /kafkajs\/src\/(consumer|protocol\/requests\/fetch)/],
  ['socket writes/reads', /stream_base_commons|node:net /],
  ['kafkajs network/other', /kafkajs/],
  ['ioredis', /ioredis|redis-parser/],
  ['own code (scorer/, core/, drift-aggregator/, api/)', /\/(scorer|core|drift-aggregator|api)\//],
  ['worker messaging', /worker_threads|internal\/worker/],
];

function stages(profile: CpuProfile, byId: Map<number, ProfileNode>, busy: number): string[] {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const name = byId.get(id)!.callFrame.functionName;
    if (name === '(idle)') return;
    const frames: string[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) frames.push(`${byId.get(cur)!.callFrame.url} ${byId.get(cur)!.callFrame.functionName}`);
    const stage = name === '(garbage collector)' || name === '(program)' ? name : (STAGES.find(([, rule]) => frames.some((frame) => rule.test(frame)))?.[0] ?? 'other (node internals, module loading)');
    totals.set(stage, (totals.get(stage) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return [...totals].sort((a, b) => b[1] - a[1]).map(([stage, us]) => `${((100 * us) / busy).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${stage}`);
}

function summarize(path: string, topN: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, us]) => a + us, 0);
  const byFunction = new Map<string, number>();
  const byBucket = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    const file = url.replace(/^.*\/(node_modules\/|dist\/)?/, '');
    const key = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const bucket = bucketOf(url, functionName);
    byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  const top = (map: Map<string, number>): string[] => [...map].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([k, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  return [
    `profile ${path.split('/').pop()}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (${((100 * busy) / total).toFixed(0)} %), shares of busy time`,
    '-- by package / folder (self time)',
    ...top(byBucket),
    `-- top ${topN} functions (self time)`,
    ...top(byFunction),
    '-- by what the stack was doing (first rule matching any frame of the sample\'s stack)',
    ...stages(profile, byId, busy),
  ].join('\n');
}

const [file, n] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/profile-summary.ts <file.cpuprofile> [topN]');
process.stdout.write(`${summarize(file, Number(n ?? 25))}\n`);
