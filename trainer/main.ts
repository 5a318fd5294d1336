/**
 * Process entry: `node --import tsx trainer/main.ts <train|evaluate|infer|models|runs|retrain-policy> [...]`, the
 * same as `driftline <command> …` (trainer/cli.ts).
 */
import { runNamedCommand } from '../core/cli.js';
import { exitWhenDone } from '../core/service-runner.js';
import { commands } from './cli.js';

const [name = '', ...argv] = process.argv.slice(2);
exitWhenDone('trainer', runNamedCommand(commands, name, argv));
