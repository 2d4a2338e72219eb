import { mkdtemp, readdir, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csv } from '../src/inputs/declare-input.ts';
import { readRows, scanInput } from '../src/inputs/input-scan.ts';
import { until } from './support/until.ts';

/** How many of this process's file descriptors are open on `file` (Linux's /proc). */
async function openOn(file: string): Promise<number> {
  const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target === file).length;
}

describe.skipIf(process.platform !== 'linux')('a CSV input read in batches', () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'input-batches-')));
    file = path.join(dir, 'rows.csv');
    await writeFile(file, ['id', ...Array.from({ length: 5000 }, (_, i) => String(i + 1))].join('\n'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads each batch from its noted start and closes the file of every batch that stops before the end', async () => {
    const input = { file, declaration: csv({ columns: { id: 'integer' } }), label: 'input rows' };
    const index = await scanInput(input);
    const batches: unknown[][] = [];
    for (let from = 0; from < index.rows; from += 1000) {
      const batch: unknown[] = [];
      for await (const row of readRows(input, index, from, from + 1000)) batch.push(row.id);
      batches.push([batch.length, batch[0], batch.at(-1)]);
    }
    expect(batches).toEqual([0, 1, 2, 3, 4].map((k) => [1000, k * 1000 + 1, (k + 1) * 1000]));
    await until(async () => ((await openOn(file)) === 0 ? true : undefined), 5000, 'every batch to close the file');
  });
});
