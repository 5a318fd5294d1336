/** Process entry: `node --import tsx drift-aggregator/main.ts` (or `driftline aggregator`). */
import { runAggregator } from './run.js';

runAggregator().then(
  // Logs go through pino's asynchronous destination: give it a moment, or a start-up failure exits silently.
  (code) => setTimeout(() => process.exit(code), 100),
  (err: unknown) => {
    process.stderr.write(`drift aggregator crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
