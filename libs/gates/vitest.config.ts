import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Rehearsals restore real dumps into real databases.
    testTimeout: 240_000,
    hookTimeout: 240_000,
  },
});
