import path from 'node:path';
import { defineConfig, packageDir } from '@snippets/runner';

export default defineConfig({
  // The ledger's repo id: keep it once the repo has run in production.
  repo: 'example-snippets',
  snippetsDir: 'snippets',
  // The service's drizzle migrations, for `requires: { migrations: [...] }` and for tests.
  service: { migrationsFolder: path.join(packageDir('@snippets/example-service', import.meta.url), 'drizzle') },
  timeouts: { statement: '15m', lock: '10s', runLockWait: '10m' },
});
