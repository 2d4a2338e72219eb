import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Behaviour tests spawn the real CLI against real databases.
    testTimeout: 180_000,
    hookTimeout: 60_000,
    // Most of a test's time is a CLI process or a database server at work: two files at a
    // time keep both cores busy where vitest's default (cores - 1) runs one.
    maxWorkers: 2,
  },
});
