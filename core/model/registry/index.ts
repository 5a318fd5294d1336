/**
 * The model registry's face: open a registry, the records and results it answers with, and the lock
 * (for tests of its take-over rules). Layout and guarantees: registry.ts.
 */
export { acquireLock, type RegistryLock } from './lock.js';
export { loadAndCheckArtifacts, openRegistry, registrySettings } from './registry.js';
export { changeOf, heldOutMacroF1 } from './stages.js';
export { parentOf } from './lineage.js';
export * from './types.js';
