/** Which registry version the scorer shadow-scores (scorer/shadow.ts shadowCandidate). */
import { describe, expect, it } from 'vitest';
import { shadowCandidate } from '../../scorer/shadow.js';

describe('shadowCandidate', () => {
  it('is the newest staging version newer than production', () => {
    expect(shadowCandidate([{ version: 1, stage: 'archived' }, { version: 2, stage: 'production' }, { version: 3, stage: 'staging' }, { version: 4, stage: 'staging' }])).toBe(4);
  });

  it('ignores staging versions older than production, and archived ones', () => {
    expect(shadowCandidate([{ version: 1, stage: 'staging' }, { version: 2, stage: 'production' }, { version: 3, stage: 'archived' }])).toBeNull();
  });

  it('is none when nothing is staged or the registry is empty', () => {
    expect(shadowCandidate([{ version: 1, stage: 'production' }])).toBeNull();
    expect(shadowCandidate([])).toBeNull();
  });
});
