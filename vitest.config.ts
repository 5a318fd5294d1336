import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code, runs in parallel) and `integration` (real Kafka/Redis/ClickHouse
// started by scripts/services.sh; files run one at a time because the machine has 2 cores and one broker).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/**/*.int.test.ts', 'tests/**/*.fault.test.ts'],
          testTimeout: 60_000,
          // Hooks that open the embedded ClickHouse (chdb) take seconds when the files run in parallel on
          // two cores; the 10 s default failed a CI run in retrain-policy-metrics' beforeAll.
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/**/*.int.test.ts', 'tests/**/*.fault.test.ts'],
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 240_000,
          globalSetup: ['tests/support/global-setup.ts'],
        },
      },
    ],
  },
});
