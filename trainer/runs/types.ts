/** What a run is: one training or evaluation job, with what went in, what came out and the pictures of it. */

export const RUN_KINDS = ['train', 'eval', 'infer'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

export interface RunArtifact {
  /** File name inside the run's artifacts folder (validated: see ARTIFACT_NAME). */
  name: string;
  contentType: string;
  bytes: number;
  description: string;
}

export interface RunRecord {
  /** `<kind>_<UTC timestamp to the millisecond>`, e.g. train_20261206T201736123Z (unique in a store). */
  id: string;
  kind: RunKind;
  createdAt: string;
  model: {
    name: string;
    /** The version trained (train) or evaluated (eval). */
    version: number | null;
    /** The version it was trained from (train), or the evaluated version's own parent (eval), when known. */
    parentVersion: number | null;
  };
  params: Record<string, unknown>;
  data: { fingerprint: string; rows: number; files: string[] };
  metrics: Record<string, unknown>;
  artifacts: RunArtifact[];
  /** Things a reader should know, e.g. why a PNG is missing. */
  notes: string[];
}

/** What a caller hands to the store; the store names the run and fills in the artifact list. */
export type RunInput = Omit<RunRecord, 'id' | 'createdAt' | 'artifacts'>;

/** An artifact's bytes before they are written. */
export interface ArtifactContent {
  name: string;
  content: string | Buffer;
  description: string;
}

export const RUN_ID = /^(train|eval|infer)_(\d{8}T\d{9}Z)$/;
/** Letters, digits, '.', '_', '-'; no leading dot, so '..' and hidden names cannot be asked for. */
export const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

const CONTENT_TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  png: 'image/png',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
};

export function contentTypeOf(name: string): string {
  const extension = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}
