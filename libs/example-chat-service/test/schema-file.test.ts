import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { schemaFile, splitStatements } from '../src/index.ts';

const packageRoot = dirname(schemaFile);
const drizzleKitBin = join(dirname(createRequire(import.meta.url).resolve('drizzle-kit')), 'bin.cjs');

describe('schema.sql', () => {
  it('is what `drizzle-kit export` prints for src/schema.ts now (run `npm run export-schema` if not)', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [drizzleKitBin, 'export', '--dialect', 'postgresql', '--schema', 'src/schema.ts'],
      { cwd: packageRoot },
    );
    expect(await readFile(schemaFile, 'utf8')).toBe(stdout);
  });

  it('splits into one statement per table, foreign key and index', async () => {
    const statements = splitStatements(await readFile(schemaFile, 'utf8'));
    expect(statements.filter((s) => s.startsWith('CREATE TABLE'))).toHaveLength(7);
    expect(statements.filter((s) => s.includes('FOREIGN KEY'))).toHaveLength(11);
    expect(statements.filter((s) => /^CREATE (UNIQUE )?INDEX/.test(s))).toHaveLength(7);
    expect(statements).toHaveLength(25);
    expect(statements.every((s) => !s.endsWith(';'))).toBe(true);
  });
});
