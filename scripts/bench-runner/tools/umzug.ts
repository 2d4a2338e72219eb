import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BENCHMARKS_DIR, type Tool } from '../tool.ts';

/** umzug's CLI over one plain-JavaScript migration per unit; the ledger row commits in each migration's transaction. */
export const umzug: Tool = {
  name: 'umzug, ledger in each transaction',
  invocation: '`node benchmarks/umzug-migrate.mjs up` (`runAsCLI`, migrations/*.mjs)',
  async prepare(dir, units) {
    await mkdir(path.join(dir, 'migrations'));
    for (const { id } of units) {
      await writeFile(
        path.join(dir, 'migrations', `${id}.mjs`),
        `export async function up({ context: { sql } }) {\n  await sql\`insert into effects (unit) values (\${${JSON.stringify(id)}})\`;\n}\n`,
      );
    }
  },
  apply: () => ({ file: process.execPath, args: [path.join(BENCHMARKS_DIR, 'umzug-migrate.mjs'), 'up'] }),
  ledgerCount: 'select count(*)::int as n from umzug_ledger',
};
