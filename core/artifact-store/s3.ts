/**
 * An S3-compatible object store (AWS S3, S3Proxy, MinIO, Ceph RGW…) through @aws-sdk/client-s3.
 * Path-style addressing by default: self-hosted servers rarely have per-bucket DNS names.
 * Network failures and 5xx/throttling answers are ARTIFACT_STORE_UNAVAILABLE (retriable, retried here
 * with the one back-off); a refused request (403, missing bucket) is ARTIFACT_STORE_FAILED at once.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { DriftlineError } from '../errors.js';
import { withRetry } from '../retry.js';
import { checkKey, checkPrefix } from './keys.js';
import type { ArtifactStore } from './types.js';

export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending without '/'); every key is stored under `<prefix>/`. */
  prefix: string;
  /** Empty: AWS's own endpoint for the region. */
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  /** Empty: the SDK's default credential chain (AWS_ACCESS_KEY_ID…, profiles, instance roles). */
  accessKeyId: string;
  secretAccessKey: string;
  /** Attempts after the first for retriable failures. */
  retries: number;
}

const RETRY = { initialDelayMs: 100, maxDelayMs: 2_000 };

export class S3ArtifactStore implements ArtifactStore {
  readonly uri: string;
  private readonly client: S3Client;
  private readonly keyPrefix: string;

  constructor(private readonly options: S3StoreOptions) {
    this.keyPrefix = options.prefix === '' ? '' : `${checkKey(options.prefix, 'S3 key prefix')}/`;
    this.uri = `s3://${options.bucket}/${this.keyPrefix}`;
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.accessKeyId ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
      // The SDK's default CRC32 checksum headers (2025+) are not implemented by most S3-compatible servers
      // (S3Proxy answers 501): send and check them only where the API requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1, // retries are ours (withRetry), so a refused request is not retried three times by the SDK as well
    });
  }

  /** Checks the bucket answers; creates it when `create` is set and it does not exist. */
  async ensureBucket(create: boolean): Promise<void> {
    try {
      await this.send('head bucket', () => this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket })));
    } catch (err) {
      if (!(create && err instanceof DriftlineError && err.details?.['status'] === 404)) throw err;
      await this.send('create bucket', () => this.client.send(new CreateBucketCommand({ Bucket: this.options.bucket })));
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const Key = this.keyPrefix + checkKey(key);
    await this.send(`put ${key}`, () => this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key, Body: bytes })));
  }

  async get(key: string): Promise<Uint8Array | null> {
    const Key = this.keyPrefix + checkKey(key);
    try {
      return await this.send(`get ${key}`, async () => {
        const answer = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key }));
        if (!answer.Body) return new Uint8Array(0);
        return answer.Body.transformToByteArray();
      });
    } catch (err) {
      if (err instanceof DriftlineError && err.details?.['s3Code'] === 'NoSuchKey') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const Prefix = this.keyPrefix + checkPrefix(prefix);
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await this.send(`list ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix, ContinuationToken })),
      );
      // Keys ending in '/' are folder markers (consoles and filesystem-backed servers make them), not objects.
      for (const item of page.Contents ?? []) if (item.Key && !item.Key.endsWith('/')) keys.push(item.Key.slice(this.keyPrefix.length));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys.sort();
  }

  async children(prefix: string): Promise<string[]> {
    const Prefix = this.keyPrefix + checkPrefix(prefix);
    const names = new Set<string>();
    let ContinuationToken: string | undefined;
    do {
      // Delimiter '/': the server answers the level's "folders" as CommonPrefixes and only its own objects as Contents.
      const page = await this.send(`children ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix, Delimiter: '/', ContinuationToken })),
      );
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) names.add(common.Prefix.slice(Prefix.length, -1));
      for (const item of page.Contents ?? []) if (item.Key && !item.Key.endsWith('/')) names.add(item.Key.slice(Prefix.length));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    names.delete('');
    return [...names].sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.keyPrefix + checkKey(key);
    await this.send(`delete ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key })));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private send<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withRetry(async () => {
      try {
        return await call();
      } catch (err) {
        throw this.translate(what, err);
      }
    }, { retries: this.options.retries, ...RETRY });
  }

  /** SDK and socket errors → a DriftlineError whose code says whether trying again can help. */
  private translate(what: string, err: unknown): DriftlineError {
    const where = `${this.uri} (${what})`;
    if (err instanceof S3ServiceException) {
      const status = err.$metadata.httpStatusCode ?? 0;
      const transient = (status >= 500 && status !== 501) || status === 429 || err.name === 'SlowDown';
      const code = transient ? 'ARTIFACT_STORE_UNAVAILABLE' : 'ARTIFACT_STORE_FAILED';
      return new DriftlineError(code, `artifact store ${where}: ${err.name} (HTTP ${status})`, { cause: err, details: { status, s3Code: err.name } });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new DriftlineError('ARTIFACT_STORE_UNAVAILABLE', `artifact store ${where} cannot be reached: ${message}`, { cause: err });
  }
}
