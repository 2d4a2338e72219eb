/**
 * One measurement of `npm run bench -- inputs` (scripts/bench-inputs.ts), run as a process of
 * its own so that its peak RSS is its own: `tsx scripts/bench-inputs/measure.ts MODE FILE
 * [EXTRA]` prints one JSON line, { rows, bytes, ms, maxRssKb }, where ms times the work alone
 * (not start-up nor imports) and maxRssKb is this process's peak resident set.
 *
 * Modes: `idle` does nothing (what the process costs before any work); `raw` streams every
 * record through csv-parse, the runner's own parser, and drops it; `scan` is the runner's
 * scanInput, and writes the index it builds to EXTRA; `copy` is copyHashed to EXTRA; `batched`
 * reads every row through readRows, BATCH rows at a time, with the index read from EXTRA.
 */
import { createReadStream, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse';
import { csv } from '../../libs/runner/src/inputs/declare-input.ts';
import { copyHashed, readRows, scanInput, type InputIndex } from '../../libs/runner/src/inputs/input-scan.ts';

const BATCH = 1000;
const MODES = ['idle', 'raw', 'scan', 'copy', 'batched'] as const;
export type Mode = (typeof MODES)[number];

export interface Measurement {
  rows: number;
  bytes: number;
  ms: number;
  maxRssKb: number;
}

const declaration = csv({ columns: { account_id: 'uuid', email: 'email', reason: 'text', amount: 'numeric', opened_on: 'date' } });

async function rawRows(file: string): Promise<number> {
  let records = 0;
  for await (const _record of createReadStream(file).pipe(parse({ bom: true, info: true }))) records++;
  return records - 1; // the header
}

async function batchedRows(file: string, indexFile: string): Promise<number> {
  const parsed = JSON.parse(await readFile(indexFile, 'utf8')) as InputIndex;
  // JSON writes the index's undefined starts as null.
  const index: InputIndex = { rows: parsed.rows, starts: parsed.starts.map((start) => start ?? undefined) };
  const input = { file, declaration, label: 'bench' };
  let rows = 0;
  for (let from = 0; from < index.rows; from += BATCH) {
    for await (const _row of readRows(input, index, from, from + BATCH)) rows++;
  }
  return rows;
}

async function run(mode: Mode, file: string, extra: string | undefined): Promise<number> {
  switch (mode) {
    case 'idle':
      return 0;
    case 'raw':
      return rawRows(file);
    case 'scan': {
      const index = await scanInput({ file, declaration, label: 'bench' });
      await writeFile(extra!, JSON.stringify(index));
      return index.rows;
    }
    case 'copy':
      await copyHashed(createReadStream(file), extra!);
      return 0;
    case 'batched':
      return batchedRows(file, extra!);
  }
}

const [mode, file, extra] = process.argv.slice(2) as [Mode, string, string | undefined];
if (!MODES.includes(mode)) throw new Error(`measure: unknown mode ${mode}; one of ${MODES.join(', ')}`);
const start = performance.now();
const rows = await run(mode, file, extra);
const ms = performance.now() - start;
const measurement: Measurement = { rows, bytes: mode === 'idle' ? 0 : statSync(file).size, ms, maxRssKb: process.resourceUsage().maxRSS };
console.log(JSON.stringify(measurement));
