/**
 * The bad-input corpus through the scorer, against the real broker: raw messages on a one-partition reviews
 * topic (each bad one between two valid reviews), the scorer run in-process with runScorer({ env }) on a temp
 * registry seeded from models/default. Every bad message must be on the dead-letter topic with its original
 * bytes, topic/partition/offset, code, field and reason; every valid one scored exactly once; and
 * scored + dead-lettered == sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codecFor } from '../../core/avro.js';
import { DEFAULT_MAX_RAW_BYTES } from '../../core/deadletter.js';
import { validateReview } from '../../core/validation.js';
import type { DeadLetter, ScoredReview } from '../../schemas/types.js';
import { runScorer } from '../../scorer/app.js';
import { interleave, loadValidLines, produceInOrder, type MixedInput } from '../support/corpus.js';
import { readAll } from '../support/kafka.js';
import { createSetup, groupProgress, waitForCaughtUp, type TestSetup } from '../scorer/helpers.js';
import { rowsFor } from './bad-inputs.js';

const ROWS = rowsFor('scorer');
const REJECTED = ROWS.filter((row) => row.outcome.kind === 'rejected');
const ACCEPTED = ROWS.filter((row) => row.outcome.kind === 'accepted');
const DEDUPLICATED = ROWS.filter((row) => row.outcome.kind === 'deduplicated');

let setup: TestSetup;
let mixed: Array<MixedInput<Buffer | null>>;
let endOffset: number;
let scored: ScoredReview[];
let deadLetters: Array<{ letter: DeadLetter; headers: Record<string, string> }>;

beforeAll(async () => {
  setup = await createSetup('corpus', 1);
  const valid = loadValidLines(ROWS.length + 1, 300).map(({ record }) => {
    const result = validateReview(record);
    if (!result.ok) throw result.error;
    return { id: result.review.review_id, bytes: codecFor('ReviewEvent').encode(result.review) as Buffer | null };
  });
  mixed = interleave(valid, [...ROWS], (row, previousValidId) => row.renderFor(previousValidId));
  // One key, one partition: offset i is input i, so each dead letter and scored record points at its input.
  await produceInOrder(setup.kafka, setup.topics.reviews, mixed.map((input) => ({ key: 'corpus', value: input.bytes })));
  endOffset = (await groupProgress(setup.kafka, setup.groupId, setup.topics.reviews)).end;

  const scorer = await runScorer({ env: { ...setup.env, DRIFTLINE_LOG_LEVEL: 'warn', DRIFTLINE_SCORER_INSTANCE_ID: `corpus-${setup.id}` } });
  try {
    await waitForCaughtUp(setup, 90_000);
  } finally {
    await scorer.stop();
  }
  const [scoredMessages, deadMessages] = await Promise.all([readAll(setup.topics.scored, { kafka: setup.kafka }), readAll(setup.topics.deadLetter, { kafka: setup.kafka })]);
  scored = scoredMessages.map((message) => codecFor('ScoredReview').decode(message.value));
  deadLetters = deadMessages.map((message) => ({ letter: codecFor('DeadLetter').decode(message.value), headers: message.headers }));
});
afterAll(() => setup?.cleanup());

describe('scorer: bad-input corpus', () => {
  it('the input is what was sent: one partition, offsets 0..n-1', () => {
    expect(endOffset).toBe(mixed.length);
  });

  it('counts add up: scored + dead-lettered == sent, split as the table says', () => {
    expect(scored.length + deadLetters.length + DEDUPLICATED.length).toBe(mixed.length);
    expect(deadLetters).toHaveLength(REJECTED.length);
    expect(scored).toHaveLength(mixed.length - REJECTED.length - DEDUPLICATED.length);
    const byCode: Record<string, number> = {};
    for (const row of REJECTED) if (row.outcome.kind === 'rejected') byCode[row.outcome.code] = (byCode[row.outcome.code] ?? 0) + 1;
    const seen: Record<string, number> = {};
    for (const { letter } of deadLetters) seen[letter.error_code] = (seen[letter.error_code] ?? 0) + 1;
    expect(seen).toEqual(byCode);
  });

  it('every valid review around the bad ones is scored exactly once, from its own offset', () => {
    const offsets = scored.map((record) => record.input_offset);
    expect(new Set(offsets).size).toBe(offsets.length);
    mixed.forEach((input, offset) => {
      if (input.kind !== 'valid') return;
      const records = scored.filter((record) => record.input_offset === offset);
      expect(records, `offset ${offset}`).toHaveLength(1);
      expect(records[0]).toMatchObject({ review_id: input.id, input_partition: 0 });
    });
  });

  it.each(ROWS)('$name ($what)', (row) => {
    const offset = mixed.findIndex((input) => input.kind === 'bad' && input.row === row.name);
    const sent = mixed[offset]!.bytes ?? Buffer.alloc(0);
    const letters = deadLetters.filter(({ letter }) => letter.source_offset === offset);
    if (row.outcome.kind === 'deduplicated') {
      expect(letters).toHaveLength(0);
      expect(scored.filter((record) => record.input_offset === offset)).toHaveLength(0);
      return;
    }
    if (row.outcome.kind === 'accepted') {
      expect(letters).toHaveLength(0);
      expect(scored.filter((record) => record.input_offset === offset)).toHaveLength(1);
      return;
    }
    expect(scored.filter((record) => record.input_offset === offset)).toHaveLength(0);
    expect(letters, `dead letter for offset ${offset}`).toHaveLength(1);
    const { letter, headers } = letters[0]!;
    expect(letter).toMatchObject({
      stage: 'scorer',
      error_code: row.outcome.code,
      field: row.outcome.field,
      source_topic: setup.topics.reviews,
      source_partition: 0,
      source_file: null,
      source_line: null,
    });
    expect(headers.error_code).toBe(row.outcome.code);
    expect(letter.reason.length).toBeGreaterThan(10);
    if (sent.length > DEFAULT_MAX_RAW_BYTES) {
      expect(Buffer.compare(letter.raw, sent.subarray(0, DEFAULT_MAX_RAW_BYTES))).toBe(0);
      expect(letter.reason).toContain(`cut to ${DEFAULT_MAX_RAW_BYTES} of ${sent.length} bytes`);
    } else {
      expect(Buffer.compare(letter.raw, sent), `raw bytes of ${row.name}`).toBe(0);
    }
  });

  it('a text with U+FFFD is scored and flagged has_replacement_char; nothing else is flagged', () => {
    const offset = mixed.findIndex((input) => input.kind === 'bad' && input.row === 'text-replacement-char');
    expect(scored.filter((record) => record.has_replacement_char).map((record) => record.input_offset)).toEqual([offset]);
  });

  it('accepted rows are scored like valid ones; a repeated review id is scored once, from its first offset', () => {
    expect(ACCEPTED.map((row) => row.name)).toEqual(['text-replacement-char']);
    expect(DEDUPLICATED.map((row) => row.name)).toEqual(['duplicate-id']);
    const offset = mixed.findIndex((input) => input.kind === 'bad' && input.row === 'duplicate-id');
    const previous = mixed[offset - 1]!;
    expect(previous.kind).toBe('valid');
    const sameId = scored.filter((record) => previous.kind === 'valid' && record.review_id === previous.id);
    expect(sameId.map((record) => record.input_offset)).toEqual([offset - 1]);
  });
});
