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
