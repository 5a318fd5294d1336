/** Ingest's public face: publishing review records (JSONL/CSV/stdin readers live behind it). */
export { ingestRecords, type IngestSummary } from './ingest.js';
