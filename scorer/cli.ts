/** `driftline scorer`: runs one streaming scorer process (configuration by DRIFTLINE_* env vars). */
import type { CliCommand } from '../core/cli.js';
import { scorerSettings } from './config.js';

function usage(): string {
  const rows = Object.values(scorerSettings.spec).map((s) => `  ${s.env.padEnd(42)} ${String(s.default === '' ? '(empty)' : s.default).padEnd(18)} ${s.description}`);
  return [
    'usage: driftline scorer',
    '  Consumes ReviewEvent records from DRIFTLINE_TOPIC_REVIEWS, scores them with the production model of the registry',
    '  (hot-swapped on promotion events) and writes ScoredReview / DeadLetter records exactly once (Kafka transactions).',
    '  Stop with SIGTERM or Ctrl-C: the in-flight batch is finished and committed first.',
    '',
    'environment:',
    ...rows,
  ].join('\n');
}

const scorer: CliCommand = {
  name: 'scorer',
  summary: 'Run the streaming scorer (Kafka consumer, exactly-once)',
  usage: usage(),
  async run(argv) {
    if (argv.length > 0) {
      process.stderr.write(`driftline scorer: unexpected arguments ${argv.join(' ')}\n\n${usage()}\n`);
      return 2;
    }
    const { scorerMain } = await import('./main.js');
    return scorerMain();
  },
};

export const commands: CliCommand[] = [scorer];
