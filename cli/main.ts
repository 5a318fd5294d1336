/**
 * `driftline <command> [options]`: the one CLI entry. Commands live with their components
 * (ingest/cli.ts, trainer/cli.ts, ...) and are imported lazily so `driftline ingest` does not load tfjs.
 */
import type { CliCommand } from '../core/cli.js';

type Loader = () => Promise<CliCommand[]>;

const COMPONENT_COMMANDS: Array<{ names: string[]; load: Loader }> = [
  { names: ['services', 'topics'], load: async () => (await import('./infra.js')).commands },
  { names: ['ingest'], load: async () => (await import('../ingest/cli.js')).commands },
  { names: ['train', 'models', 'evaluate', 'infer', 'runs', 'retrain-policy'], load: async () => (await import('../trainer/cli.js')).commands },
  { names: ['scorer'], load: async () => (await import('../scorer/cli.js')).commands },
  { names: ['aggregator', 'drift', 'alerts'], load: async () => (await import('../drift-aggregator/cli.js')).commands },
  { names: ['api'], load: async () => (await import('../api/cli.js')).commands },
  { names: ['demo'], load: async () => (await import('./demo.js')).commands },
  { names: ['serve'], load: async () => (await import('./serve.js')).commands },
];

const SUMMARIES: Record<string, string> = {
  services: 'Start/stop/status of Kafka, Redis and ClickHouse (scripts/services.sh)',
  topics: 'Create the Driftline topics with the configured partitions',
  ingest: 'Publish reviews from JSONL/CSV/stdin as Avro events; invalid ones go to the dead-letter topic',
  train: 'Train sentiment/category/outlier models and register a version',
  models: 'List, promote and roll back model versions',
  evaluate: 'Evaluate a model version on labelled reviews',
  infer: 'Batch inference: score a file of reviews with a model version, recorded as a run',
  'retrain-policy': 'Drift-triggered retraining: train a staging candidate when production stays red, promote it through the shadow gate',
  runs: 'List and show the runs of training, evaluation and batch inference (metrics, pictures, drift)',
  scorer: 'Run the streaming scorer (Kafka consumer, exactly-once)',
  aggregator: 'Run the drift aggregator (Redis sketches, ClickHouse metrics, alerts)',
  drift: 'Drift tools: compare two datasets, query drift metrics',
  alerts: 'Consume drift alerts: dedupe, print, deliver to a webhook (dead letter after N failures)',
  api: 'Run the HTTP API (Fastify)',
  serve: 'Run scorer, aggregator and API together until stopped (the single-node deployment)',
  demo: 'The main job: services, default model, sample reviews through the whole pipeline, report',
};

/** Long-running services: their logs are for log collectors (JSON on stderr, DRIFTLINE_LOG_LEVEL or info). */
const SERVICE_COMMANDS = new Set(['scorer', 'aggregator', 'api', 'serve']);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Takes `--log-level <level>` (or `--log-level=<level>`) out of the arguments, for any command. Human-facing
 * commands print their own report on stdout; their logs default to warnings and errors, as human lines
 * on stderr (or JSON lines in DRIFTLINE_LOG_FILE). The choice goes through the environment, so every
 * component and child process this command starts reads the same settings.
 */
export function applyLogOptions(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const rest: string[] = [];
  let level: string | undefined;
  // One iterator: `--log-level` takes the next argument from it.
  const it = args[Symbol.iterator]();
  for (const arg of it) {
    if (arg === '--log-level') level = it.next().value ?? '';
    else if (arg.startsWith('--log-level=')) level = arg.slice('--log-level='.length);
    else rest.push(arg);
  }
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
    env.DRIFTLINE_LOG_LEVEL = level;
  }
  if (!SERVICE_COMMANDS.has(command)) {
    if (!env.DRIFTLINE_LOG_LEVEL) env.DRIFTLINE_LOG_LEVEL = 'warn';
    if (!env.DRIFTLINE_LOG_FORMAT) env.DRIFTLINE_LOG_FORMAT = 'human';
  }
  return rest;
}

function help(): string {
  const lines = Object.entries(SUMMARIES).map(([name, summary]) => `  ${name.padEnd(12)} ${summary}`);
  return (
    `usage: driftline <command> [options] [--log-level warn]\n\ncommands:\n${lines.join('\n')}\n\n'driftline help <command>' shows a command's options.\n` +
    `--log-level (fatal|error|warn|info|debug|trace|silent, default DRIFTLINE_LOG_LEVEL, else warn; info for scorer, aggregator, api):\n` +
    `logs go to stderr (or DRIFTLINE_LOG_FILE), never to stdout.`
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (name === 'help' && topic) {
      const command = await findCommand(topic);
      if (command) {
        process.stdout.write(`${command.usage}\n`);
        return 0;
      }
    }
    process.stdout.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  const command = await findCommand(name);
  if (!command) {
    process.stderr.write(`driftline: unknown command '${name}'\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  let args: string[];
  try {
    args = applyLogOptions(name, rest);
  } catch (err) {
    process.stderr.write(`driftline ${name}: ${(err as Error).message}\n`);
    return 2;
  }
  return command.run(args);
}

async function findCommand(name: string): Promise<CliCommand | undefined> {
  const entry = COMPONENT_COMMANDS.find((c) => c.names.includes(name));
  if (!entry) return undefined;
  return (await entry.load()).find((c) => c.name === name);
}
