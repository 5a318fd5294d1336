/** `driftline ingest`: publish reviews from a JSONL/CSV file or stdin; invalid ones go to the dead-letter topic. */
import { initTracing, shutdownTracing } from '../core/tracing.js';
import { parseArgs } from 'node:util';
import type { CliCommand } from '../core/cli.js';
import { coreSettings } from '../core/config.js';
import { isDriftlineError, toDriftlineError } from '../core/errors.js';
import { ingestSettings, type IngestSettings } from './config.js';
import { ingestRecords } from './ingest.js';
import { INPUT_FORMATS, type IngestProgress, type IngestSummary, type InputFormat } from './types.js';

const USAGE = `usage: driftline ingest --file <reviews.jsonl|reviews.csv|-> [options]

Validates each review and publishes it as an Avro ReviewEvent (key: product_id, else review_id).
Invalid records go to the dead-letter topic with the raw line, line number, error code and reason.

options:
  -f, --file <path|->          input file, or - for stdin (required)
      --format jsonl|csv       input format (default: from the extension, .csv = csv, else jsonl)
  -t, --topic <name>           reviews topic (default: DRIFTLINE_TOPIC_REVIEWS)
      --dead-letter-topic <n>  dead-letter topic (default: DRIFTLINE_TOPIC_DEAD_LETTER)
  -r, --rate <records/s>       rate limit, 0 = unlimited (default: DRIFTLINE_INGEST_RATE)
  -b, --batch-size <n>         messages per produce request (default: DRIFTLINE_INGEST_BATCH_SIZE)
  -q, --quiet                  no progress lines on stderr
      --json                   print the final summary as JSON

A broker restart mid-run is waited out: a batch Kafka did not take is resent with back-off for up to
DRIFTLINE_INGEST_OUTAGE_TIMEOUT_MS (default 60 s) on the same idempotent producer.

exit codes: 0 done (bad records are counted, not fatal), 1 infrastructure failure (Kafka down), 2 bad arguments`;

interface IngestArgs {
  file: string;
  format?: InputFormat;
  topic?: string;
  deadLetterTopic?: string;
  overrides: Partial<IngestSettings>;
  quiet: boolean;
  json: boolean;
}

class UsageError extends Error {}

function numberFlag(name: string, raw: string | undefined, min: number, integer: boolean): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function parseIngestArgs(argv: string[]): IngestArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        file: { type: 'string', short: 'f' },
        format: { type: 'string' },
        topic: { type: 'string', short: 't' },
        'dead-letter-topic': { type: 'string' },
        rate: { type: 'string', short: 'r' },
        'batch-size': { type: 'string', short: 'b' },
        quiet: { type: 'boolean', short: 'q', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values } = parsed;
  if (!values.file) throw new UsageError('--file is required (use - for stdin)');
  if (values.format !== undefined && !INPUT_FORMATS.includes(values.format as InputFormat)) {
    throw new UsageError(`--format must be one of ${INPUT_FORMATS.join(', ')}, got ${JSON.stringify(values.format)}`);
  }
  const overrides: Partial<IngestSettings> = {};
  const rate = numberFlag('rate', values.rate, 0, false);
  const batchSize = numberFlag('batch-size', values['batch-size'], 1, true);
  if (rate !== undefined) overrides.rate = rate;
  if (batchSize !== undefined) overrides.batchSize = batchSize;
  return {
    file: values.file,
    format: values.format as InputFormat | undefined,
    topic: values.topic,
    deadLetterTopic: values['dead-letter-topic'],
    overrides,
    quiet: values.quiet ?? false,
    json: values.json ?? false,
  };
}

function formatProgress(p: IngestProgress): string {
  return `ingest: ${p.read.toLocaleString('en-US')} read (${p.recordsPerSec.toLocaleString('en-US')} records/s), ${p.published.toLocaleString('en-US')} valid, ${p.deadLettered.toLocaleString('en-US')} dead-lettered`;
}

/** Prints a progress line only when something moved (an idle stdin pipe stays quiet). */
function progressPrinter(): (p: IngestProgress) => void {
  let lastRead = -1;
  return (p) => {
    if (p.read === lastRead) return;
    lastRead = p.read;
    process.stderr.write(`${formatProgress(p)}\n`);
  };
}

export function formatSummary(s: IngestSummary): string {
  const codes = Object.entries(s.byErrorCode)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0))
    .map(([code, n]) => `${code}=${n}`)
    .join(' ');
  return [
    `ingest ${s.interrupted ? 'interrupted' : 'done'}: ${s.source} (${s.format}) in ${(s.elapsedMs / 1000).toFixed(1)} s, ${s.recordsPerSec.toLocaleString('en-US')} records/s`,
    `  read          ${s.read}`,
    `  published     ${s.published}  → ${s.topic}`,
    `  dead-lettered ${s.deadLettered}  → ${s.deadLetterTopic}${codes ? `  (${codes})` : ''}`,
    ...(s.withReplacementChar > 0 ? [`  with U+FFFD   ${s.withReplacementChar} (published: valid text an upstream decoder left a replacement character in)`] : []),
    ...(s.blankLines > 0 ? [`  blank lines   ${s.blankLines} (skipped)`] : []),
    ...(s.sendRetries > 0 ? [`  resends       ${s.sendRetries} (Kafka was unavailable for a while)`] : []),
  ].join('\n');
}

/** SIGINT/SIGTERM stop reading and flush; a second signal exits at once. */
function abortOnSignals(controller: AbortController, quiet: boolean): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    if (!quiet) process.stderr.write(`ingest: ${signal}: stopping, flushing what was read (send again to exit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function run(argv: string[]): Promise<number> {
  let args: IngestArgs;
  let settings;
  try {
    args = parseIngestArgs(argv);
    settings = coreSettings.load();
    ingestSettings.load(); // fail on a bad DRIFTLINE_INGEST_* before connecting
  } catch (err) {
    process.stderr.write(`driftline ingest: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  initTracing('ingest'); // off unless DRIFTLINE_OTEL_ENABLED
  const controller = new AbortController();
  const detach = abortOnSignals(controller, args.quiet);
  try {
    const summary = await ingestRecords(args.file, {
      settings,
      ingest: args.overrides,
      format: args.format,
      topic: args.topic,
      deadLetterTopic: args.deadLetterTopic,
      signal: controller.signal,
      onProgress: args.quiet ? undefined : progressPrinter(),
    });
    process.stdout.write(`${args.json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
    return 0;
  } catch (err) {
    const error = toDriftlineError(err);
    const where = error.code === 'KAFKA_UNAVAILABLE' ? ` (brokers: ${settings.kafkaBrokers.join(',')})` : '';
    process.stderr.write(`driftline ingest: ${error.code}${where}: ${error.message}\n`);
    if (args.json) process.stdout.write(`${JSON.stringify({ error: error.toJSON() })}\n`);
    return isDriftlineError(err) && err.code === 'NOT_FOUND' ? 2 : 1;
  } finally {
    detach();
    await shutdownTracing(); // flushes pending spans
  }
}

export const commands: CliCommand[] = [{ name: 'ingest', summary: 'Publish reviews from JSONL/CSV/stdin as Avro events', usage: USAGE, run }];
