/**
 * What the model registry stores and answers: a version's record with its stage history, the inputs and
 * results of its operations, and the ModelRegistry interface itself (core/model/registry/registry.ts
 * implements it over a directory).
 */
import type { ReferenceBaseline } from '../../../schemas/baseline.js';
import type { ArtifactStore } from '../../artifact-store/index.js';
import type { ModelPromotion, PromotionAction, Stage } from '../../../schemas/types.js';

export const BASELINE_FILE = 'baseline.json';
/** The immutable part of a version's record, kept inside its directory so a copied version carries its lineage. */
export const RECORD_FILE = 'registry-record.json';

/** One stage transition, as stored in a version's history (and published as a ModelPromotion). */
export interface StageHistoryEntry {
  action: PromotionAction;
  from_stage: Stage | null;
  to_stage: Stage;
  at_ms: number;
  actor: string;
  reason: string | null;
  previous_production_version: number | null;
}

export interface ModelVersionRecord {
  name: string;
  version: number;
  stage: Stage;
  created_at: string;
  created_at_ms: number;
  metrics: Record<string, unknown>;
  data_fingerprint: string;
  params: Record<string, unknown>;
  featurizer: unknown;
  timings: Record<string, number>;
  /** Relative to the version directory. */
  baseline_path: string;
  /** Relative to the registry root. */
  artifacts_path: string;
  /** The version that was production when this one was last promoted (or rolled back to). */
  previous_production: number | null;
  /**
   * The version this one was trained from (warm start), and its model name; null for a run from scratch, a
   * seeded model, or a record written before lineage was kept (absent there: read it with parentOf).
   */
  parent_model?: string | null;
  parent_version?: number | null;
  stage_history: StageHistoryEntry[];
}

/** A stage change as the registry records it: the promotion event's fields without its event id. */
export type StageChange = Omit<ModelPromotion, 'event_id'>;

export interface RegisterInput {
  name: string;
  /** Writes the version's artifacts into `dir` (an empty temporary directory renamed into place afterwards). */
  writeArtifacts: (dir: string) => Promise<void>;
  metrics: Record<string, unknown>;
  baseline: ReferenceBaseline;
  featurizer: unknown;
  dataFingerprint: string;
  params: Record<string, unknown>;
  timings: Record<string, number>;
  /** The registered version it was trained from (warm start); null or absent: from scratch. */
  parent?: { model: string; version: number } | null;
  actor?: string;
  reason?: string;
}

export interface RegisterResult {
  version: number;
  dir: string;
  record: ModelVersionRecord;
  changes: StageChange[];
}

export interface StageChangeOptions {
  actor: string;
  reason?: string;
  force?: boolean;
}

export interface StageChangeResult {
  record: ModelVersionRecord;
  /** The primary change (the one to publish). */
  change: StageChange;
}

/** What a trainer or evaluator reports about one run; free-form beyond `kind`. */
export interface RunInput {
  kind: string;
  version?: number | null;
  [key: string]: unknown;
}

export interface StoredRun extends RunInput {
  run_id: string;
  recorded_at_ms: number;
}

export interface RegistryOptions {
  lockWaitMs?: number;
  lockStaleMs?: number;
  /** Retries of a whole locked operation after REGISTRY_CONFLICT. */
  conflictRetries?: number;
  /**
   * What promote() asks of a version before it moves it to production; throws when the version cannot serve.
   * Default: load it with the serving runtime and run its model check (loadAndCheckArtifacts).
   */
  verifyArtifacts?: ArtifactVerifier;
  /**
   * Where versions (and the index) are kept besides the registry directory. Undefined: the store
   * DRIFTLINE_ARTIFACT_STORE names, opened on first use; null: none (the directory is the only copy).
   */
  artifactStore?: ArtifactStore | null;
}

export type ArtifactVerifier = (versionDir: string, meta: { name: string; version: number }) => Promise<void>;

export interface ModelRegistry {
  readonly root: string;
  register(input: RegisterInput): Promise<RegisterResult>;
  /** Every version of `name` (or of every model), by name then version. */
  list(name?: string): Promise<ModelVersionRecord[]>;
  names(): Promise<string[]>;
  /** Throws MODEL_NOT_FOUND. */
  get(name: string, version: number): Promise<ModelVersionRecord>;
  productionVersion(name: string): Promise<number | null>;
  versionDir(name: string, version: number): string;
  /**
   * The version's directory on this host, downloaded from the artifact store first when only the store
   * has it (a serving host with an empty cache). Throws MODEL_NOT_FOUND when neither has it.
   */
  localVersionDir(name: string, version: number): Promise<string>;
  baseline(name: string, version: number): Promise<ReferenceBaseline>;
  promote(name: string, version: number, options: StageChangeOptions): Promise<StageChangeResult>;
  rollback(name: string, options: StageChangeOptions): Promise<StageChangeResult>;
  archive(name: string, version: number, options: StageChangeOptions): Promise<StageChangeResult>;
  recordRun(name: string, run: RunInput): Promise<StoredRun>;
  runs(name: string): Promise<StoredRun[]>;
  /** Registers `srcDir` as version 1 in production when `name` has no version yet; null when it has. */
  seedFromDirectory(name: string, srcDir: string, options?: { actor?: string }): Promise<RegisterResult | null>;
}
