/** Process entry: `node --import tsx drift-aggregator/main.ts` (or `driftline aggregator`). */
import { runAggregator } from './run.js';

runAggregator().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`drift aggregator crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
