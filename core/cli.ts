import { toDriftlineError } from './errors.js';

/** One CLI command of `driftline <command>`; each component exports its commands from its cli.ts (core, so components never import the CLI layer). */
export interface CliCommand {
  name: string;
  /** One line for `driftline help`. */
  summary: string;
  /** Full usage text, printed by `driftline help <command>` and on bad arguments. */
  usage: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

/**
 * A command body whose errors become one `driftline NAME: CODE: message` line on stderr and an exit code:
 * 2 with the usage for bad arguments (REQUEST_INVALID), 1 for anything else.
 */
export function guardedRun(name: string, usage: string, body: (argv: string[]) => Promise<number>): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      return await body(argv);
    } catch (caught) {
      const error = toDriftlineError(caught);
      process.stderr.write(`driftline ${name}: ${error.code}: ${error.message}\n`);
      if (error.code === 'REQUEST_INVALID') {
        process.stderr.write(`\n${usage}\n`);
        return 2;
      }
      return 1;
    }
  };
}

/**
 * Runs the command called `name` among `commands` (a component's main.ts: `node trainer/main.ts train …`);
 * an unknown name lists the commands on stderr and returns 2, as `driftline` does.
 */
export async function runNamedCommand(commands: readonly CliCommand[], name: string, argv: string[]): Promise<number> {
  const command = commands.find((candidate) => candidate.name === name);
  if (command) return command.run(argv);
  process.stderr.write(`unknown command ${JSON.stringify(name)}; one of: ${commands.map((candidate) => candidate.name).join(', ')}\n`);
  return 2;
}
