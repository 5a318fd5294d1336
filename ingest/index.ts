/** Ingest's public face: publishing review records, its readers and message format, and its types. */
export { ingestRecords } from './ingest.js';
export { convertCsvRow, detectFormat, readCsv, readJsonl } from './readers.js';
export { reviewKey, reviewMessage } from './publisher.js';
export { INPUT_FORMATS, type IngestOptions, type IngestProgress, type IngestSource, type IngestSummary, type InputFormat, type InputRecord } from './types.js';
