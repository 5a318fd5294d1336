/** `driftline api` argument handling (the server itself is covered by server.int.test.ts). */
import { describe, expect, it } from 'vitest';
import { commands } from '../../api/cli.js';

describe('driftline api', () => {
  const api = commands.find((command) => command.name === 'api');

  it('is exported with usage naming its settings', () => {
    expect(api).toBeDefined();
    expect(api?.usage).toContain('DRIFTLINE_API_PORT');
    expect(api?.usage).toContain('DRIFTLINE_API_ADMIN_TOKEN');
  });

  it('refuses unknown or incomplete options with exit code 2', async () => {
    expect(await api?.run(['--bogus', 'x'])).toBe(2);
    expect(await api?.run(['--port'])).toBe(2);
  });
});
