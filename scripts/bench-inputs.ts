/**
 * `npm run bench -- inputs`: how fast the runner reads a CSV input, and in how much memory,
 * against csv-parse alone (the parser it uses) on the same file in the same run. For CSV files
 * of BENCH_ROWS rows (default 1,000,000 and 5,000,000, comma-separated), generated into a
 * temporary directory, each of these runs as a process of its own (scripts/bench-inputs/
 * measure.ts, started by tsx like the others) that reports its peak RSS and the time of its
 * work alone:
 *
 *   raw csv-parse   every record streamed through csv-parse ({ bom, info }) and dropped
 *   scan            scanInput: every row counted and validated against the declared types
 *   copy            copyHashed: the bytes hashed into a copy, as a run fetches a local input
 *   batched         every row read back through readRows, 1,000 at a time, as batch({ input })
 *
 * Prints rows/s (MB/s for the copy), the runner's rows/s as a ratio of the raw parser's, and
 * peak RSS against the target: under 150 MiB whatever the file's size (file sizes and MB/s
 * are decimal, 10^6 bytes). BENCH_RUNS (default 1)
 * runs of each, interleaved; the median time and the highest peak are printed.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Measurement, Mode } from './bench-inputs/measure.ts';
import { median } from './bench-runner/process.ts';
import { WORKSPACE_ROOT } from './bench-runner/tool.ts';

const exec = promisify(execFile);
const SIZES = (process.env.BENCH_ROWS ?? '1000000,5000000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const TARGET_MIB = 150;
const TSX = path.join(WORKSPACE_ROOT, 'node_modules/.bin/tsx');
const MEASURE = path.join(WORKSPACE_ROOT, 'scripts/bench-inputs/measure.ts');

const FIRST = ['anna', 'ben', 'chloe', 'david', 'elif', 'farid', 'grace', 'hugo', 'ines', 'jonas', 'kemi', 'lars', 'maria', 'noah', 'olga', 'priya'];
const LAST = ['smith', 'nguyen', 'muller', 'garcia', 'kowalski', 'okafor', 'tanaka', 'silva', 'haddad', 'jensen', 'rossi', 'dubois'];
const DOMAINS = ['example.com', 'mail.example.org', 'corp.example.net', 'example.co.uk'];
const REASONS = [
  'customer request',
  'duplicate account',
  '"fraud review, confirmed"',
  'inactive for 24 months',
  '"moved abroad, asked for closure by email"',
  'merged into parent account',
  '"said ""close it"" on the phone"',
  'chargeback limit reached',
];
const DATES = Array.from({ length: 3650 }, (_, day) => new Date(Date.UTC(2015, 0, 1 + day)).toISOString().slice(0, 10));
const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)]!;

/** A CSV of `rows` fake accounts to close, written 10,000 rows at a time. */
async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  out.write('account_id,email,reason,amount,opened_on\n');
  for (let done = 0; done < rows; ) {
    const lines: string[] = [];
    for (const end = Math.min(rows, done + 10_000); done < end; done++) {
      const email = `${pick(FIRST)}.${pick(LAST)}${Math.floor(Math.random() * 1000)}@${pick(DOMAINS)}`;
      lines.push(`${crypto.randomUUID()},${email},${pick(REASONS)},${(Math.random() * 10_000).toFixed(2)},${pick(DATES)}\n`);
    }
    if (!out.write(lines.join(''))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

async function measure(mode: Mode, file: string, extra?: string): Promise<Measurement> {
  const { stdout } = await exec(TSX, [MEASURE, mode, file, ...(extra ? [extra] : [])], { cwd: WORKSPACE_ROOT });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Measurement;
}

const LABELS: Record<Exclude<Mode, 'idle'>, string> = {
  raw: 'raw csv-parse',
  scan: 'runner scanInput',
  copy: 'runner copyHashed',
  batched: 'runner readRows ×1000',
};
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => bytes / 1e6;

const HEADER = ['rows'.padStart(10), 'file'.padStart(7), 'measurement'.padEnd(22), 'time'.padStart(8), 'throughput'.padStart(16), 'vs raw'.padStart(7), 'peak RSS'.padStart(9)];

/** The table's lines for one file: median time, throughput, ratio to the raw parser's rows/s, highest peak RSS. */
function report(rows: number, samples: Record<keyof typeof LABELS, Measurement[]>): string[] {
  const seconds = (list: Measurement[]) => median(list.map((m) => m.ms)) / 1000;
  const rate = (list: Measurement[]) => rows / seconds(list);
  return (Object.entries(samples) as [keyof typeof LABELS, Measurement[]][]).map(([mode, list]) => {
    const peak = Math.max(...list.map((m) => m.maxRssKb)) / 1024; // MiB
    const first = mode === 'raw';
    return [
      (first ? count(rows) : '').padStart(10),
      (first ? `${Math.round(mb(list[0]!.bytes))} MB` : '').padStart(7),
      LABELS[mode].padEnd(22),
      `${seconds(list).toFixed(1)} s`.padStart(8),
      (mode === 'copy' ? `${count(mb(list[0]!.bytes) / seconds(list))} MB/s` : `${count(rate(list))} rows/s`).padStart(16),
      (mode === 'copy' ? '' : `${(rate(list) / rate(samples.raw)).toFixed(2)}×`).padStart(7),
      `${Math.round(peak)} MiB`.padStart(9),
      ...(peak > TARGET_MIB ? [`OVER ${TARGET_MIB} MiB`] : []),
    ].join('  ');
  });
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-bench-inputs-'));
try {
  const idle = await measure('idle', '');
  const table: string[] = [];
  for (const rows of SIZES) {
    const file = path.join(dir, `accounts-${rows}.csv`);
    const index = path.join(dir, `accounts-${rows}.index.json`);
    const copy = path.join(dir, 'copy.csv');
    const started = performance.now();
    await writeCsv(file, rows);
    console.error(`  generated ${count(rows)} rows in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const samples: Record<keyof typeof LABELS, Measurement[]> = { raw: [], scan: [], copy: [], batched: [] };
    for (let run = 0; run < RUNS; run++) {
      // The scan writes the index that the batched read starts its batches from.
      for (const mode of ['raw', 'scan', 'copy', 'batched'] as const) {
        const m = await measure(mode, file, { raw: undefined, scan: index, copy, batched: index }[mode]);
        if (mode !== 'copy' && m.rows !== rows) throw new Error(`${mode}: read ${m.rows} rows of ${rows}`);
        samples[mode].push(m);
        console.error(`  ${count(rows)} rows, run ${run + 1}/${RUNS}: ${LABELS[mode]} ${(m.ms / 1000).toFixed(1)} s, ${Math.round(m.maxRssKb / 1024)} MiB`);
        await rm(copy, { force: true });
      }
    }
    table.push(...report(rows, samples));
    await rm(file);
  }
  console.log(`\nCSV inputs (uuid, email, text, numeric, date), each measurement a tsx process of its own; median of ${RUNS} run(s)`);
  console.log(`target: peak RSS under ${TARGET_MIB} MiB whatever the file's size; a tsx process doing nothing peaks at ${Math.round(idle.maxRssKb / 1024)} MiB\n`);
  console.log([HEADER.join('  '), ...table].join('\n'));
} finally {
  await rm(dir, { recursive: true, force: true });
}
