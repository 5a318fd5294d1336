/**
 * Global setup of the integration project: starts the services DRIFTLINE_TEST_SERVICES selects (default
 * `local` = scripts/services.sh up, the same script users run; `testcontainers` = throwaway containers),
 * and makes their addresses visible to every test file three ways: process.env of this process (inherited
 * by the workers vitest forks after setup), `inject('driftlineServices')`, and .run/test-services.json.
 */
import type { TestProject } from 'vitest/node';
import { applyServicesEnv, removeServicesFile, startTestServices, writeServicesFile, type ServicesEnv } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    driftlineServices: ServicesEnv;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = await startTestServices();
  applyServicesEnv(started);
  writeServicesFile(started);
  project.provide('driftlineServices', started.env);
  return async () => {
    removeServicesFile();
    await started.stop();
  };
}
