/**
 * Structured logs (pino) with the component name on every line.
 *
 * Where they go: DRIFTLINE_LOG_FILE, when set, receives the JSON lines (appended); otherwise stderr, as
 * JSON lines (DRIFTLINE_LOG_FORMAT=json, the services' default, for log collectors) or as one short
 * human line each (`human`, the default of human-facing CLI commands, cli/main.ts). stdout is never
 * written by a logger: it belongs to the commands' own output.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import { coreSettings } from './config.js';
import { userPath } from './paths.js';

export type { Logger };

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
/** Fields every line has, or that the human line already shows. */
const HIDDEN_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg', 'err', 'logger', 'timestamp', 'stack']);

function shortValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** One JSON log line as a human line: `driftline warning [kafka.ingest] message (key=value, ...)`. */
export function humanLogLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = LEVEL_NAMES[Number(entry.level)] ?? 'log';
  const err = entry.err as { message?: unknown; code?: unknown } | undefined;
  const reason = err && typeof err === 'object' ? `: ${[err.code, err.message].filter((part) => part !== undefined).join(' ')}` : '';
  const details = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN_FIELDS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${shortValue(value)}`);
  return `driftline ${level} [${String(entry.component ?? '?')}] ${String(entry.msg ?? '')}${reason}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

const humanStderr: DestinationStream = {
  write(line: string) {
    process.stderr.write(`${humanLogLine(line.trimEnd())}\n`);
  },
};

/** Log files opened by this process, one destination per path. */
const files = new Map<string, DestinationStream>();

function destination(): DestinationStream {
  const settings = coreSettings.load();
  if (settings.logFile !== '') {
    const path = userPath(settings.logFile);
    let file = files.get(path);
    if (!file) {
      file = pino.destination({ dest: path, append: true, mkdir: true, sync: false });
      files.set(path, file);
    }
    return file;
  }
  return settings.logFormat === 'human' ? humanStderr : pino.destination({ fd: 2, sync: false });
}

export function createLogger(component: string, level: string = coreSettings.load().logLevel): Logger {
  return pino({ name: `driftline.${component}`, level, base: { component } }, destination());
}
