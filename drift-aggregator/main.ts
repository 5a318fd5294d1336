/** Process entry: `node --import tsx drift-aggregator/main.ts` (or `driftline aggregator`). */
import { exitWhenDone } from '../core/service-runner.js';
import { runAggregator } from './run.js';

exitWhenDone('drift aggregator', runAggregator());
