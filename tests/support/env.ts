/**
 * Test-side view of the integration services: importing this module fills process.env with the
 * DRIFTLINE_* addresses the global setup chose (.run/test-services.json), for any variable not already
 * set. Workers started by vitest inherit them anyway; this covers processes started another way
 * (a child process, a file run on its own while a setup-owning run is alive).
 */
import { readServicesFile, type ServicesEnv } from './services.js';

export function testServicesEnv(): ServicesEnv {
  return readServicesFile();
}

export function applyTestServicesEnv(target: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(testServicesEnv())) {
    if (target[key] === undefined || target[key] === '') target[key] = value;
  }
}

applyTestServicesEnv();
