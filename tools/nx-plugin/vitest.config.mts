import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // End-to-end tests run the real `nx g` in a copy of the workspace.
    testTimeout: 300_000,
    hookTimeout: 180_000,
    // Two files build the published packages into the one dist/ folder: one file at a time.
    fileParallelism: false,
  },
});
