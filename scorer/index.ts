/** The scorer's public face: running it in this process, and its settings. */
export { runScorer, scorerModelThreads } from './app.js';
export { scorerSettings } from './config.js';
export type { RunScorerOptions, ScorerProcess } from './types.js';
