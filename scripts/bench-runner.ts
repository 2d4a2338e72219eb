/**
 * `npm run bench -- runner`: applying N trivial units of work in one invocation with the
 * `snippets` CLI against node-pg-migrate, umzug, drizzle's migrator and a hand-written floor
 * (one transaction per unit), start-up with nothing pending, and `snippets status` / `plan`
 * on a large repo. Every tool runs as its own process against a fresh database; medians
 * are printed and written to docs/benchmarks.md.
 *
 * BENCH_RUNS (default 5) runs per figure, BENCH_WARMUP (default 1) unmeasured runs first,
 * BENCH_UNITS (default 100,1000) the sizes, BENCH_STATUS_SNIPPETS (default 5000; 0 skips).
 * A quick look: BENCH_RUNS=1 BENCH_WARMUP=0 BENCH_UNITS=100 BENCH_STATUS_SNIPPETS=0.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cpuCalibrationMs } from './bench-runner/calibration.ts';
import { closeServer, serverDetails, withFreshDatabase, type FreshDatabase } from './bench-runner/database.ts';
import { median, timed } from './bench-runner/process.ts';
import { renderReport, type SizeResult, type StatusResult, type ToolResult } from './bench-runner/report.ts';
import { units, WORKSPACE_ROOT, type Tool, type Unit } from './bench-runner/tool.ts';
import { drizzle } from './bench-runner/tools/drizzle.ts';
import { floor } from './bench-runner/tools/floor.ts';
import { nodePgMigratePerMigration, nodePgMigrateSingle } from './bench-runner/tools/node-pg-migrate.ts';
import { snippets, snippetsColdCache, snippetsCommand } from './bench-runner/tools/snippets.ts';
import { umzug } from './bench-runner/tools/umzug.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const WARMUPS = Number(process.env.BENCH_WARMUP ?? 1);
const SIZES = (process.env.BENCH_UNITS ?? '100,1000').split(',').map(Number);
const STATUS_SNIPPETS = Number(process.env.BENCH_STATUS_SNIPPETS ?? 5000);
const REPORT_FILE = path.join(WORKSPACE_ROOT, 'docs', 'benchmarks.md');

const TOOLS: Tool[] = [floor, snippets, snippetsColdCache, umzug, nodePgMigratePerMigration, nodePgMigrateSingle, drizzle];

const EFFECTS = 'create table effects (id bigserial primary key, unit text not null)';

interface Sample {
  applyMs: number;
  idleMs: number;
  commitsPerUnit: number;
}

/** Fails the benchmark when a tool skipped or repeated a unit: a fast wrong answer is no result. */
async function expectApplied(database: FreshDatabase, tool: Tool, count: number): Promise<void> {
  const [effects] = await database.query<{ n: number }>('select count(*)::int as n from effects');
  const [ledger] = await database.query<{ n: number }>(tool.ledgerCount);
  if (effects!.n !== count || ledger!.n !== count) {
    throw new Error(`${tool.name}: expected ${count} effect and ledger rows, found ${effects!.n} and ${ledger!.n}`);
  }
}

/** One measurement on a fresh database: apply everything, then run again with nothing pending. */
function measure(tool: Tool, dir: string, list: Unit[]): Promise<Sample> {
  return withFreshDatabase(async (database) => {
    await database.query(EFFECTS);
    const before = await database.commits();
    const applyMs = await timed(tool.apply(dir, list), dir, database.url);
    const commits = (await database.commits()) - before;
    await expectApplied(database, tool, list.length);
    const idleMs = await timed((tool.idle ?? tool.apply)(dir, list), dir, database.url);
    await expectApplied(database, tool, list.length);
    return { applyMs, idleMs, commitsPerUnit: commits / list.length };
  });
}

async function benchSize(root: string, size: number): Promise<SizeResult> {
  const list = units(size);
  const dirs = new Map<Tool, string>();
  for (const tool of TOOLS) {
    const dir = path.join(root, `${size}-${dirs.size}`);
    await mkdir(dir);
    await tool.prepare(dir, list);
    dirs.set(tool, dir);
  }
  const samples = new Map<Tool, Sample[]>(TOOLS.map((t) => [t, []]));
  // Round-robin, so a burst of load on the machine touches every tool alike.
  for (let run = -WARMUPS; run < RUNS; run++) {
    for (const tool of TOOLS) {
      const sample = await measure(tool, dirs.get(tool)!, list);
      const label = run < 0 ? 'warm-up' : `run ${run + 1}/${RUNS}`;
      console.error(`  ${size} units, ${label}: ${tool.name} ${(sample.applyMs / 1000).toFixed(2)} s, nothing pending ${(sample.idleMs / 1000).toFixed(2)} s`);
      if (run >= 0) samples.get(tool)!.push(sample);
    }
  }
  const results: ToolResult[] = TOOLS.map((tool) => {
    const of = (pick: (s: Sample) => number) => median(samples.get(tool)!.map(pick));
    const spread = (pick: (s: Sample) => number): [number, number] => {
      const values = samples.get(tool)!.map(pick);
      return [Math.min(...values), Math.max(...values)];
    };
    return {
      tool,
      applyMs: of((s) => s.applyMs),
      idleMs: of((s) => s.idleMs),
      applySpread: spread((s) => s.applyMs),
      idleSpread: spread((s) => s.idleMs),
      commitsPerUnit: of((s) => s.commitsPerUnit),
    };
  });
  return { units: size, results };
}

/** `status`, `plan` and an idle `run` on a repo whose snippets are all applied (by one real run). */
async function benchStatus(root: string, size: number): Promise<StatusResult> {
  const dir = path.join(root, `status-${size}`);
  await mkdir(dir);
  const list = units(size);
  await snippets.prepare(dir, list);
  return withFreshDatabase(async (database) => {
    await database.query(EFFECTS);
    const applyMs = await timed(snippets.apply(dir, list), dir, database.url);
    await expectApplied(database, snippets, size);
    console.error(`  ${size} snippets applied in ${(applyMs / 1000).toFixed(2)} s`);
    const times = { status: [] as number[], plan: [] as number[], run: [] as number[] };
    for (let run = -WARMUPS; run < RUNS; run++) {
      for (const command of ['status', 'plan', 'run'] as const) {
        const ms = await timed(snippetsCommand(dir, command), dir, database.url);
        console.error(`  ${size} snippets, ${run < 0 ? 'warm-up' : `run ${run + 1}/${RUNS}`}: snippets ${command} ${(ms / 1000).toFixed(2)} s`);
        if (run >= 0) times[command].push(ms);
      }
    }
    return { snippets: size, applyMs, statusMs: median(times.status), planMs: median(times.plan), idleMs: median(times.run) };
  });
}

// The runner as a repo installs it: built JavaScript, not the workspace's TypeScript sources.
execFileSync('npm', ['run', '--silent', 'build:packages'], { cwd: WORKSPACE_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
const loadAtStart = os.loadavg()[0]!;
const calibrationAtStart = cpuCalibrationMs();
const root = await mkdtemp(path.join(os.tmpdir(), 'bench-runner-'));
try {
  const server = await serverDetails();
  const sizes: SizeResult[] = [];
  for (const size of SIZES) sizes.push(await benchSize(root, size));
  const status = STATUS_SNIPPETS > 0 ? await benchStatus(root, STATUS_SNIPPETS) : undefined;
  const markdown = renderReport({
    machine: {
      cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      cores: os.cpus().length,
      ramGiB: os.totalmem() / 1024 ** 3,
      node: process.version,
      postgres: server.version,
      fsync: server.fsync,
      synchronousCommit: server.synchronousCommit,
      date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
      load: [loadAtStart, os.loadavg()[0]!],
      cpuCalibration: [calibrationAtStart, cpuCalibrationMs()],
    },
    runs: RUNS,
    warmups: WARMUPS,
    sizes,
    status,
    floor,
    runner: snippets,
    perUnitPeers: [umzug, nodePgMigratePerMigration],
  });
  await mkdir(path.dirname(REPORT_FILE), { recursive: true });
  await writeFile(REPORT_FILE, `${markdown}\n`);
  console.log(markdown);
  console.log(`(written to ${path.relative(WORKSPACE_ROOT, REPORT_FILE)})`);
} finally {
  await rm(root, { recursive: true, force: true });
  await closeServer();
}
