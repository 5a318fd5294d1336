/**
 * The floor of bench/api.ts: a bare Fastify server (no plugins, hooks, schemas or logger) whose one route
 * reads and parses the same JSON bodies POST /v1/predict gets and answers `{}`. Driven at the same rate,
 * over the same connections, on the same CPU as the API, its latency is what HTTP, Fastify and JSON
 * parsing cost on this machine under this load: no API can be faster than it.
 *
 *   node dist/bench/api-floor-server.js <port> <bodyLimitBytes>
 */
import Fastify from 'fastify';

const port = Number(process.argv[2]);
const bodyLimit = Number(process.argv[3] ?? 1_048_576);
const app = Fastify({ logger: false, bodyLimit });
app.post('/empty', async () => ({}));
app.get('/ready', async () => ({ status: 'ready' }));
await app.listen({ host: '127.0.0.1', port });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
