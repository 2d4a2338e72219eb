import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { BENCHMARKS_DIR, type Tool } from '../tool.ts';

const BIN = createRequire(path.join(BENCHMARKS_DIR, 'package.json')).resolve('node-pg-migrate/bin/node-pg-migrate');

/**
 * node-pg-migrate's CLI over one JavaScript migration per unit. By default it runs all
 * pending migrations in one transaction; `--no-single-transaction` gives each migration
 * its own, with its `pgmigrations` row.
 */
function nodePgMigrate(singleTransaction: boolean): Tool {
  const flags = singleTransaction ? [] : ['--no-single-transaction'];
  return {
    name: singleTransaction ? 'node-pg-migrate, default (one transaction)' : 'node-pg-migrate, a transaction per migration',
    invocation: `\`node-pg-migrate up -m migrations${flags.map((f) => ` ${f}`).join('')}\``,
    async prepare(dir, units) {
      await writeFile(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
      await mkdir(path.join(dir, 'migrations'));
      for (const { id } of units) {
        await writeFile(path.join(dir, 'migrations', `${id}.js`), `export const up = (pgm) => {\n  pgm.sql("insert into effects (unit) values ('${id}')");\n};\n`);
      }
    },
    apply: () => ({ file: BIN, args: ['up', '-m', 'migrations', ...flags] }),
    ledgerCount: 'select count(*)::int as n from pgmigrations',
  };
}

export const nodePgMigrateSingle = nodePgMigrate(true);
export const nodePgMigratePerMigration = nodePgMigrate(false);
