/**
 * The review ids one ingest run has published, bounded: the most recent `capacity` distinct ids and the
 * line each came from. On a long stdin stream an unbounded map would grow for ever; this one forgets the
 * oldest id first, so DUPLICATE_REVIEW is caught for a repeat within the last `capacity` distinct ids
 * of the run (DRIFTLINE_INGEST_DEDUPE_IDS), and a repeat from further back is published again.
 */
export class RecentIds {
  // A Map iterates in insertion order: its first key is the oldest id.
  private readonly lines = new Map<string, number>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** The line `id` was first published from, if it is among the remembered ids. */
  lineOf(id: string): number | undefined {
    return this.lines.get(id);
  }

  remember(id: string, line: number): void {
    if (this.lines.has(id)) return;
    this.lines.set(id, line);
    if (this.lines.size > this.capacity) this.lines.delete(this.lines.keys().next().value as string);
  }

  get size(): number {
    return this.lines.size;
  }
}
