/**
 * Process entry: `node --import tsx ingest/main.ts --file reviews.jsonl [...]`, the same as `driftline ingest …`
 * (ingest/cli.ts: arguments, progress lines, summary, exit code 1 only when the infrastructure fails).
 */
import { runNamedCommand } from '../core/cli.js';
import { exitWhenDone } from '../core/service-runner.js';
import { commands } from './cli.js';

exitWhenDone('ingest', runNamedCommand(commands, 'ingest', process.argv.slice(2)));
