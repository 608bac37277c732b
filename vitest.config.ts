import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources (the `@megabyte/source` export
// condition), so a change in one package is seen by the others without a build step.
export default defineConfig({
  resolve: { conditions: ['@megabyte/source'] },
  ssr: { resolve: { conditions: ['@megabyte/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
