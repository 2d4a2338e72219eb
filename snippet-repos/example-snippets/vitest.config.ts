import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['snippets/*.test.ts'],
    // Each test builds a database from the service's migrations.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
