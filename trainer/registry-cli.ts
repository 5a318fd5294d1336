/**
 * `driftline models ...`: inspect the registry and change stages. Stage changes are published as
 * ModelPromotion events (unless --no-publish) so running scorers and APIs hot-swap.
 */
import type { CliCommand } from '../core/cli.js';
import { coreSettings } from '../core/config.js';
import { DriftlineError, toDriftlineError } from '../core/errors.js';
import { createKafka } from '../core/kafka.js';
import { kafkaPromotionPublisher, publishingRegistry, type PromotionPublisher } from '../core/model/promotions.js';
import { createClickHouse, type ClickHouseClient } from '../core/clickhouse.js';
import { clickhouseShadowWindows, promoteWithShadowGate, shadowGateSettings, type ShadowGateOptions, type ShadowWindowReader } from '../core/model/shadow-gate.js';
import { heldOutMacroF1, openRegistry, type ModelRegistry, type ModelVersionRecord, type StageChange } from '../core/model/registry/index.js';

const USAGE = `usage: driftline models <subcommand> [options]

  list [NAME] [--json]                          versions with stage, held-out macro-F1, data fingerprint
  show NAME VERSION                             one version's full record (JSON)
  promote NAME VERSION [--force] [--reason R]   make VERSION production (the old one is archived);
                                                refused when its macro-F1 is worse than production's, unless --force
          [--gate shadow]                       and only when its live shadow macro-F1 (window_summary) beats
          [--windows N] [--min-reviews N]       production's by --margin over the last N windows on at least
          [--margin X]                          --min-reviews reviews (DRIFTLINE_SHADOW_GATE_*); --force does not skip it
  rollback NAME [--reason R]                    restore the previous production version
  archive NAME VERSION [--force] [--reason R]   archive a version (--force for the production one)
  runs NAME [--json]                            training and evaluation runs
  seed NAME DIR                                 register DIR (e.g. models/default) as version 1 in production,
                                                only when NAME has no version yet

options:
  --registry DIR   registry directory (default: DRIFTLINE_REGISTRY_DIR)
  --actor WHO      recorded with stage changes (default: $USER@host)
  --no-publish     do not publish the ModelPromotion event to Kafka (DRIFTLINE_TOPIC_PROMOTIONS)`;

const BOOLEAN_FLAGS = new Set(['--force', '--json', '--no-publish']);
const VALUE_FLAGS = new Set(['--reason', '--actor', '--registry', '--gate', '--windows', '--min-reviews', '--margin']);

interface ParsedArgs {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

function parseArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (BOOLEAN_FLAGS.has(arg)) parsed.flags.add(arg);
    else if (VALUE_FLAGS.has(arg)) {
      const value = argv[++i];
      if (value === undefined) throw new DriftlineError('REQUEST_INVALID', `${arg} needs a value`, { field: arg });
      parsed.values.set(arg, value);
    } else if (arg.startsWith('--')) throw new DriftlineError('REQUEST_INVALID', `unknown option ${arg}`, { field: arg });
    else parsed.positional.push(arg);
  }
  return parsed;
}

function versionArg(raw: string | undefined): number {
  const version = Number(raw);
  if (raw === undefined || !Number.isInteger(version) || version < 1) {
    throw new DriftlineError('REQUEST_INVALID', `VERSION must be a positive integer, got ${JSON.stringify(raw ?? '')}`, { field: 'VERSION' });
  }
  return version;
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new DriftlineError('REQUEST_INVALID', `missing ${what}`, { field: what });
  return value;
}

function formatTable(records: ModelVersionRecord[]): string {
  const header = ['NAME', 'VERSION', 'STAGE', 'MACRO_F1', 'CREATED', 'DATA'];
  const rows = records.map((r) => [r.name, String(r.version), r.stage, heldOutMacroF1(r)?.toFixed(4) ?? '-', r.created_at, r.data_fingerprint.slice(0, 12)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The shadow gate's settings: DRIFTLINE_SHADOW_GATE_*, overridden by --windows, --min-reviews, --margin. */
function shadowGateOptions(args: ParsedArgs): ShadowGateOptions {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const flags = { '--windows': shadowGateSettings.spec.windows.env, '--min-reviews': shadowGateSettings.spec.minReviews.env, '--margin': shadowGateSettings.spec.margin.env };
  for (const [flag, variable] of Object.entries(flags)) {
    const value = args.values.get(flag);
    if (value !== undefined) env[variable] = value;
  }
  try {
    return shadowGateSettings.load(env);
  } catch (err) {
    const error = toDriftlineError(err);
    throw new DriftlineError('REQUEST_INVALID', error.message, { field: error.field ?? 'gate' });
  }
}

/** The promotion gate named by --gate (undefined: none). */
function gateArg(args: ParsedArgs): 'shadow' | undefined {
  const gate = args.values.get('--gate');
  if (gate === undefined || gate === 'shadow') return gate;
  throw new DriftlineError('REQUEST_INVALID', `--gate must be shadow, got ${JSON.stringify(gate)}`, { field: '--gate' });
}

function describeChange(change: StageChange): string {
  const previous = change.previous_production_version === null ? '' : ` (previous production: v${change.previous_production_version})`;
  return `${change.model_name} v${change.version}: ${change.action} ${change.from_stage ?? '-'} -> ${change.to_stage}${previous}`;
}

export interface ModelsCliIo {
  registry?: ModelRegistry;
  /** Where `promote --gate shadow` reads windows; default: window_summary in DRIFTLINE_CLICKHOUSE_*. */
  shadowWindows?: ShadowWindowReader;
  /** Event publisher; default: Kafka producer on DRIFTLINE_TOPIC_PROMOTIONS. */
  publisher?: PromotionPublisher & { close?: () => Promise<void> };
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** The command body, separated for tests (registry and output injectable). */
export async function runModels(argv: string[], io: ModelsCliIo = {}): Promise<number> {
  const out = io.out ?? ((text: string) => process.stdout.write(`${text}\n`));
  const err = io.err ?? ((text: string) => process.stderr.write(`${text}\n`));
  let publisher: ModelsCliIo['publisher'];
  let clickhouse: ClickHouseClient | undefined;
  try {
    const [sub, ...rest] = argv;
    if (!sub) {
      err(USAGE);
      return 2;
    }
    const args = parseArgs(rest);
    const base = io.registry ?? openRegistry(args.values.get('--registry') ?? coreSettings.load().registryDir);
    const stageOptions = { actor: args.values.get('--actor') ?? `${process.env['USER'] ?? 'driftline'}@cli`, reason: args.values.get('--reason'), force: args.flags.has('--force') };
    const writable = (): ModelRegistry => {
      if (args.flags.has('--no-publish')) return base;
      publisher = io.publisher ?? kafkaPromotionPublisher(createKafka(coreSettings.load(), 'models-cli'));
      return publishingRegistry(base, publisher);
    };
    const [first, second] = args.positional;
    switch (sub) {
      case 'list': {
        const records = await base.list(first);
        out(args.flags.has('--json') ? JSON.stringify(records, null, 2) : records.length === 0 ? '(no model versions)' : formatTable(records));
        return 0;
      }
      case 'show':
        out(JSON.stringify(await base.get(required(first, 'NAME'), versionArg(second)), null, 2));
        return 0;
      case 'runs': {
        const runs = await base.runs(required(first, 'NAME'));
        out(args.flags.has('--json') ? JSON.stringify(runs, null, 2) : runs.map((run) => JSON.stringify(run)).join('\n') || '(no runs)');
        return 0;
      }
      case 'promote': {
        const name = required(first, 'NAME');
        const version = versionArg(second);
        if (gateArg(args) === 'shadow') {
          const options = shadowGateOptions(args);
          let readWindows = io.shadowWindows;
          if (!readWindows) {
            const core = coreSettings.load();
            clickhouse = await createClickHouse(core);
            readWindows = clickhouseShadowWindows(clickhouse, core.clickhouseDatabase);
          }
          const { decision, result } = await promoteWithShadowGate(writable(), readWindows, name, version, stageOptions, options);
          out(decision.reason);
          out(describeChange(result.change));
          return 0;
        }
        out(describeChange((await writable().promote(name, version, stageOptions)).change));
        return 0;
      }
      case 'rollback':
        out(describeChange((await writable().rollback(required(first, 'NAME'), stageOptions)).change));
        return 0;
      case 'archive':
        out(describeChange((await writable().archive(required(first, 'NAME'), versionArg(second), stageOptions)).change));
        return 0;
      case 'seed': {
        const result = await writable().seedFromDirectory(required(first, 'NAME'), required(second, 'DIR'), { actor: stageOptions.actor });
        out(result ? result.changes.map(describeChange).join('\n') : `${first} already has versions; nothing seeded`);
        return 0;
      }
      default:
        err(`unknown subcommand '${sub}'\n\n${USAGE}`);
        return 2;
    }
  } catch (caught) {
    const error = toDriftlineError(caught);
    err(`driftline models: ${error.code}: ${error.message}`);
    return error.code === 'REQUEST_INVALID' ? 2 : 1;
  } finally {
    await publisher?.close?.();
    await clickhouse?.close().catch(() => undefined);
  }
}

export const modelsCommand: CliCommand = {
  name: 'models',
  summary: 'List, promote and roll back model versions',
  usage: USAGE,
  run: (argv) => runModels(argv),
};
