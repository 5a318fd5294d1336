/** Runs `driftline <args>` from source (the bin needs a build); used by tests that need a real child process (stdin, signals, exit codes). */
import { main } from '../../cli/main.js';

process.exitCode = await main(process.argv.slice(2));
