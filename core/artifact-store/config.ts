import { defineSettings, setting } from '../config.js';

export const artifactStoreSettings = defineSettings('artifact-store', {
  url: setting({
    env: 'DRIFTLINE_ARTIFACT_STORE',
    kind: 'string',
    default: '',
    description: "Where model versions' artifacts are kept besides the registry directory: empty = the registry directory alone (embedded default); s3://bucket/prefix = an S3-compatible store (the registry directory then holds the index, the lock and a local copy of the versions it loaded); file:///path = another directory.",
  }),
  s3Endpoint: setting({ env: 'DRIFTLINE_S3_ENDPOINT', kind: 'string', default: '', description: "S3 endpoint URL (e.g. http://127.0.0.1:9300 for the services script's S3Proxy); empty = AWS S3 for DRIFTLINE_S3_REGION." }),
  s3Region: setting({ env: 'DRIFTLINE_S3_REGION', kind: 'string', default: 'us-east-1', description: 'S3 region (signing region for S3-compatible servers).' }),
  s3ForcePathStyle: setting({ env: 'DRIFTLINE_S3_FORCE_PATH_STYLE', kind: 'boolean', default: true, description: 'Path-style S3 addressing (bucket in the path, not the host name), as self-hosted servers need.' }),
  s3AccessKeyId: setting({ env: 'DRIFTLINE_S3_ACCESS_KEY_ID', kind: 'string', default: '', description: "S3 access key id; empty = the AWS SDK's default credential chain (AWS_ACCESS_KEY_ID, profiles, instance roles)." }),
  s3SecretAccessKey: setting({ env: 'DRIFTLINE_S3_SECRET_ACCESS_KEY', kind: 'string', default: '', description: 'S3 secret access key (with DRIFTLINE_S3_ACCESS_KEY_ID).' }),
  s3CreateBucket: setting({ env: 'DRIFTLINE_S3_CREATE_BUCKET', kind: 'boolean', default: false, description: 'Create the bucket when it does not exist (otherwise a missing bucket is ARTIFACT_STORE_FAILED at start-up).' }),
  retries: setting({ env: 'DRIFTLINE_ARTIFACT_STORE_RETRIES', kind: 'int', default: 4, min: 0, description: 'Retries (with back-off) of an artifact-store request that failed for a transient reason (network, 5xx, throttling).' }),
});

export type ArtifactStoreSettings = ReturnType<typeof artifactStoreSettings.load>;
