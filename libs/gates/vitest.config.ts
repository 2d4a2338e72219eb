import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Rehearsals restore real dumps into real databases.
    testTimeout: 240_000,
    hookTimeout: 240_000,
    // Most of a rehearsal's time is the database server's and pg_restore's: two files at a
    // time keep both cores busy where vitest's default (cores - 1) runs one. Each file
    // checks only its own scratch databases (see scratchDatabasesLeft).
    maxWorkers: 2,
  },
});
