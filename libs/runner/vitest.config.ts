import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Behaviour tests spawn the real CLI against real databases.
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
