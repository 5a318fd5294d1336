/** Small network helpers shared by the CLI, the benchmarks and the tests. */
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now (for child processes' metrics ports, and tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
