/**
 * `npm run bench -- guard`: what the connection guard costs a run. The same repo of N
 * trivial snippets is applied to a fresh database by the built `snippets run`, with the
 * guard on (the default) and off (SNIPPETS_CONNECTION_GUARD=off), interleaved and in
 * alternating order so that load on the machine falls on both alike. Prints the median,
 * the spread (min–max) of each and the ratio of the medians; the guard's budget is 5%.
 *
 * BENCH_RUNS (default 7) runs per setting, BENCH_WARMUP (default 1) unmeasured pairs
 * first, BENCH_UNITS (default 1000) snippets in the repo.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { closeServer, withFreshDatabase } from './bench-runner/database.ts';
import { median, timed } from './bench-runner/process.ts';
import { units, WORKSPACE_ROOT } from './bench-runner/tool.ts';
import { snippets } from './bench-runner/tools/snippets.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const WARMUPS = Number(process.env.BENCH_WARMUP ?? 1);
const UNITS = Number(process.env.BENCH_UNITS ?? 1000);
const BUDGET = 0.05;

const SETTINGS = { on: {}, off: { SNIPPETS_CONNECTION_GUARD: 'off' } } as const;
type Setting = keyof typeof SETTINGS;

/** One run of every snippet on a fresh database; fails unless each ran exactly once. */
function measure(dir: string, setting: Setting): Promise<number> {
  const list = units(UNITS);
  return withFreshDatabase(async (database) => {
    await database.query('create table effects (id bigserial primary key, unit text not null)');
    const command = { ...snippets.apply(dir, list), env: SETTINGS[setting] };
    const ms = await timed(command, dir, database.url);
    const [row] = await database.query<{ n: number }>('select count(*)::int as n from effects');
    if (row!.n !== UNITS) throw new Error(`guard ${setting}: expected ${UNITS} effect rows, found ${row!.n}`);
    return ms;
  });
}

const format = (ms: number) => `${Math.round(ms)} ms`;

execFileSync('npm', ['run', '--silent', 'build:packages'], { cwd: WORKSPACE_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
const root = await mkdtemp(path.join(os.tmpdir(), 'bench-guard-'));
try {
  const dir = path.join(root, 'repo');
  await mkdir(dir);
  await snippets.prepare(dir, units(UNITS));
  const samples: Record<Setting, number[]> = { on: [], off: [] };
  for (let run = -WARMUPS; run < RUNS; run++) {
    const order: Setting[] = run % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    for (const setting of order) {
      const ms = await measure(dir, setting);
      if (run >= 0) samples[setting].push(ms);
      console.error(`  ${run < 0 ? 'warm-up' : `run ${run + 1}/${RUNS}`}: guard ${setting} ${format(ms)}`);
    }
  }
  console.log(`\nsnippets run, ${UNITS} snippets, ${RUNS} runs per setting (interleaved)`);
  for (const setting of ['off', 'on'] as const) {
    const list = samples[setting];
    console.log(`  guard ${setting.padEnd(3)}  median ${format(median(list))}  spread ${format(Math.min(...list))}–${format(Math.max(...list))}`);
  }
  const ratio = median(samples.on) / median(samples.off);
  const verdict = ratio <= 1 + BUDGET ? 'within' : 'over';
  console.log(`  on/off ${ratio.toFixed(3)}× (${((ratio - 1) * 100).toFixed(1)}%): ${verdict} the ${BUDGET * 100}% budget`);
} finally {
  await rm(root, { recursive: true, force: true });
  await closeServer();
}
