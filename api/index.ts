/** The API's public face: starting the HTTP server. */
export { startApiServer } from './server.js';
