/** `driftline api`: runs the HTTP API (settings from DRIFTLINE_API_* and the shared DRIFTLINE_* variables). */
import type { CliCommand } from '../core/cli.js';

const USAGE = `usage: driftline api [--host <address>] [--port <port>]
  Runs the HTTP API until SIGTERM/SIGINT (then drains in-flight requests and exits).
  --host   listen address (DRIFTLINE_API_HOST, default 127.0.0.1)
  --port   listen port (DRIFTLINE_API_PORT, default 8080)
  Other settings: DRIFTLINE_API_ADMIN_TOKEN, DRIFTLINE_API_MAX_BATCH, DRIFTLINE_API_BODY_LIMIT_BYTES,
  DRIFTLINE_API_MODEL_NAME, DRIFTLINE_REGISTRY_DIR, DRIFTLINE_KAFKA_BROKERS, DRIFTLINE_CLICKHOUSE_URL/PATH (see docs/configuration.md).
  Routes: GET /openapi.json lists them all.`;

function parseArgs(argv: string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if ((flag !== '--host' && flag !== '--port') || value === undefined) return `unknown or incomplete option ${JSON.stringify(flag)}`;
    out[flag.slice(2)] = value;
  }
  return out;
}

const api: CliCommand = {
  name: 'api',
  summary: 'Run the HTTP API (Fastify)',
  usage: USAGE,
  async run(argv) {
    const args = parseArgs(argv);
    if (typeof args === 'string') {
      process.stderr.write(`driftline api: ${args}\n\n${USAGE}\n`);
      return 2;
    }
    // Flags are the same settings as the environment variables, so they go through the same parsing.
    if (args.host !== undefined) process.env.DRIFTLINE_API_HOST = args.host;
    if (args.port !== undefined) process.env.DRIFTLINE_API_PORT = args.port;
    const { runApi } = await import('./main.js');
    return runApi();
  },
};

export const commands: CliCommand[] = [api];
