/**
 * Where a model version's files live besides the registry's working directory. One small interface,
 * two implementations run through one conformance suite (tests/core/artifact-store/conformance.test.ts):
 * the local filesystem (the embedded default) and any S3-compatible object store.
 *
 * Keys are '/'-separated relative paths (`<model>/versions/<n>/<file>`); a key never starts with '/',
 * never holds '..' or an empty segment (checkKey), so no store can be steered outside its root.
 */
export interface ArtifactStore {
  /** Where the store points, for logs and the registry's version records (`file:///…`, `s3://bucket/prefix`). */
  readonly uri: string;
  /** Writes one object; a reader sees the old object or the new one, never a part. */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The object's bytes, or null when there is none under that key. */
  get(key: string): Promise<Uint8Array | null>;
  /** Every key under `prefix` (a folder-like prefix ending in '/', or ''), sorted. */
  list(prefix: string): Promise<string[]>;
  /**
   * The names one level below `prefix` ('' or ending in '/') that hold objects, sorted: `children('')` of
   * `a/x`, `a/y/z` and `b` is `['a', 'b']`. One listing of that level, not of every object under it.
   */
  children(prefix: string): Promise<string[]>;
  /** Removes one object; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections (S3 client sockets); the filesystem store has none. */
  close(): Promise<void>;
}
