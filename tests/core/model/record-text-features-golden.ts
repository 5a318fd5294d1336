/**
 * Records golden/text-features.json.gz (see text-features-golden.ts) with the code of this tree:
 *   npx tsx tests/core/model/record-text-features-golden.ts "<commit and why>"
 * Only with code whose text features are the reference (before a change that must not move them).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { TEXT_FEATURES_GOLDEN, textFeatureRows } from './text-features-golden.js';

const recordedBy = process.argv[2];
if (!recordedBy) throw new Error('usage: record-text-features-golden.ts "<commit the code is at, and why>"');
const rows = textFeatureRows();
mkdirSync(dirname(TEXT_FEATURES_GOLDEN), { recursive: true });
writeFileSync(TEXT_FEATURES_GOLDEN, gzipSync(`${JSON.stringify({ recordedBy, rows })}\n`, { level: 9 }));
process.stdout.write(`wrote ${TEXT_FEATURES_GOLDEN}: ${rows.length} texts\n`);
