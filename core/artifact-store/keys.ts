import { DriftlineError } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Refuses keys that could leave the store's root or that no S3 server stores the same way. */
export function checkKey(key: string, what = 'artifact key'): string {
  const segments = key.split('/');
  const bad = segments.find((s) => s === '' || s === '.' || s === '..' || !SEGMENT.test(s));
  if (key.length === 0 || key.length > 900 || bad !== undefined) {
    throw new DriftlineError('ARTIFACT_STORE_FAILED', `${what} '${key}' is not a relative path of [A-Za-z0-9._-] segments`, { details: { key } });
  }
  return key;
}

/** A list prefix: '' (everything) or a checked key ending in '/'. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  if (!prefix.endsWith('/')) throw new DriftlineError('ARTIFACT_STORE_FAILED', `list prefix '${prefix}' must end with '/'`, { details: { prefix } });
  checkKey(prefix.slice(0, -1), 'list prefix');
  return prefix;
}
