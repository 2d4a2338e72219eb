/**
 * `npm run bench -- cpu`: the CPU time (user + sys) `snippets run` spends per snippet beyond
 * the floor's, the least any exactly-once runner does (benchmarks/floor.mjs). CPU time, not
 * wall time: what grows when the machine is slower, and what load on it disturbs least.
 *
 * Each run applies BENCH_UNITS (default 1000) trivial snippets to a fresh database; the floor
 * applies as many units. Runs of every build and of the floor are interleaved, BENCH_RUNS
 * (default 5) each after BENCH_WARMUP (default 1) unmeasured rounds. Prints, per build, the
 * median and spread of its CPU time and of the floor's, and the runner's milliseconds per
 * snippet beyond the floor, and its wall time as a ratio of the floor's; with two builds,
 * the second's CPU per snippet as a ratio of the first's.
 *
 * BENCH_RUNNER_DIRS: built runner packages to compare, comma-separated (`npm run
 * build:packages` builds dist/libs/runner); default this workspace's build alone.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { closeServer, withFreshDatabase } from './bench-runner/database.ts';
import { median } from './bench-runner/process.ts';
import { BENCHMARKS_DIR, units, WORKSPACE_ROOT } from './bench-runner/tool.ts';
import { prepareRepo, snippets } from './bench-runner/tools/snippets.ts';

const exec = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WARMUPS = Number(process.env.BENCH_WARMUP ?? 1);
const UNITS = Number(process.env.BENCH_UNITS ?? 1000);
const BUILDS = (process.env.BENCH_RUNNER_DIRS ?? path.join(WORKSPACE_ROOT, 'dist', 'libs', 'runner')).split(',').map((dir) => path.resolve(dir));

interface Times {
  /** User + sys, ms. */
  cpu: number;
  /** Elapsed, ms. */
  wall: number;
}

/** The CPU time (user + sys) of a command and its children, and its wall time, read by GNU time. */
async function timesOf(file: string, args: string[], cwd: string, databaseUrl: string): Promise<Times> {
  const env = { ...process.env, DATABASE_URL: databaseUrl, NO_COLOR: '1' };
  const { stderr } = await exec('/usr/bin/time', ['-f', 'times %U %S %e', file, ...args], { cwd, env, maxBuffer: 256 * 1024 * 1024 });
  const match = /times ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  if (!match) throw new Error(`${file}: no times in its output:\n${stderr.slice(-2000)}`);
  return { cpu: (Number(match[1]) + Number(match[2])) * 1000, wall: Number(match[3]) * 1000 };
}

/** One run on a fresh database; fails unless every unit ran exactly once. */
function measure(file: string, args: string[], cwd: string, count: string): Promise<Times> {
  return withFreshDatabase(async (database) => {
    await database.query('create table effects (id bigserial primary key, unit text not null)');
    const times = await timesOf(file, args, cwd, database.url);
    const [row] = await database.query<{ n: number }>(count);
    if (row!.n !== UNITS) throw new Error(`${cwd}: expected ${UNITS} units recorded, found ${row!.n}`);
    return times;
  });
}

const list = units(UNITS);
const root = await mkdtemp(path.join(os.tmpdir(), 'snippets-bench-cpu-'));
try {
  const repos = await Promise.all(
    BUILDS.map(async (runnerDir, i) => {
      const dir = path.join(root, `build-${i}`);
      await mkdir(dir);
      await prepareRepo(dir, list, runnerDir);
      return dir;
    }),
  );
  const runner = (dir: string) => {
    const { file, args } = snippets.apply(dir, list);
    return measure(file, args, dir, snippets.ledgerCount);
  };
  const floor = () => measure(process.execPath, [path.join(BENCHMARKS_DIR, 'floor.mjs'), String(UNITS)], root, 'select count(*)::int as n from floor_ledger');

  const samples = BUILDS.map(() => ({ runner: [] as Times[], floor: [] as Times[] }));
  for (let round = 0; round < WARMUPS + RUNS; round++) {
    // Alternating order, so that a trend in the machine's load falls on every build alike.
    const order = round % 2 ? [...repos.keys()].reverse() : [...repos.keys()];
    for (const i of order) {
      const runnerTimes = await runner(repos[i]!);
      const floorTimes = await floor();
      if (round < WARMUPS) continue;
      samples[i]!.runner.push(runnerTimes);
      samples[i]!.floor.push(floorTimes);
    }
  }

  const spread = (values: number[]) => `${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))}`;
  const of = (times: Times[], kind: keyof Times) => times.map((t) => t[kind]);
  const perSnippet = samples.map(({ runner: r, floor: f }) => (median(of(r, 'cpu')) - median(of(f, 'cpu'))) / UNITS);
  console.log(`${UNITS} snippets, median of ${RUNS} (spread), on ${os.cpus()[0]?.model.trim()}:`);
  for (const [i, dir] of BUILDS.entries()) {
    const { runner: r, floor: f } = samples[i]!;
    console.log(`  ${dir}:`);
    console.log(
      `    CPU (user + sys): snippets run ${Math.round(median(of(r, 'cpu')))} ms (${spread(of(r, 'cpu'))}), floor ${Math.round(median(of(f, 'cpu')))} ms (${spread(of(f, 'cpu'))}); beyond the floor ${perSnippet[i]!.toFixed(3)} ms per snippet`,
    );
    const ratio = median(of(r, 'wall')) / median(of(f, 'wall'));
    console.log(`    wall: snippets run ${Math.round(median(of(r, 'wall')))} ms (${spread(of(r, 'wall'))}), floor ${Math.round(median(of(f, 'wall')))} ms (${spread(of(f, 'wall'))}); ${ratio.toFixed(2)}× the floor`);
  }
  if (BUILDS.length === 2) console.log(`  the second build's CPU per snippet beyond the floor is ${(perSnippet[1]! / perSnippet[0]!).toFixed(2)}× the first's`);
} finally {
  await rm(root, { recursive: true, force: true });
  await closeServer();
}
