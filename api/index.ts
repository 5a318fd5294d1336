/** The API's public face: starting the HTTP server. */
export { startApiServer } from './server.js';
export type { RunningApi, StartApiOptions } from './types.js';
