import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCHMARKS_DIR, type Tool } from '../tool.ts';

/** drizzle's migrator over a drizzle-kit folder of one `.sql` migration per unit; one transaction for all. */
export const drizzle: Tool = {
  name: 'drizzle migrate() (one transaction)',
  invocation: '`node benchmarks/drizzle-migrate.mjs` (`migrate()` of drizzle-orm/postgres-js/migrator)',
  async prepare(dir, units) {
    await mkdir(path.join(dir, 'drizzle', 'meta'), { recursive: true });
    const when = Date.UTC(2025, 0, 1);
    const entries = units.map(({ id, number }) => ({ idx: number - 1, version: '7', when: when + number * 1000, tag: id, breakpoints: true }));
    await writeFile(path.join(dir, 'drizzle', 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }, null, 2));
    for (const { id } of units) await writeFile(path.join(dir, 'drizzle', `${id}.sql`), `insert into effects (unit) values ('${id}');\n`);
  },
  apply: () => ({ file: process.execPath, args: [path.join(BENCHMARKS_DIR, 'drizzle-migrate.mjs')] }),
  ledgerCount: 'select count(*)::int as n from drizzle.__drizzle_migrations',
};
