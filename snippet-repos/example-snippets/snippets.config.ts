import { defineConfig } from '@snippets/runner';
import { migrationsFolder } from '@snippets/example-service/migrations';

export default defineConfig({
  repo: 'example-snippets',
  snippetsDir: 'snippets',
  service: { migrationsFolder },
  timeouts: { statement: '5m', lock: '10s', runLockWait: '10m' },
});
