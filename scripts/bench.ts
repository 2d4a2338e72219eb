/**
 * `npm run bench` runs every benchmark; `npm run bench -- runner` (or any of the names
 * below) only those named. Each runs as its own process, as its script does its work on
 * start, and the first failure stops the rest. Settings are environment variables:
 * BENCH_RUNS for all, and the ones each script documents.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const BENCHES: Record<string, string> = {
  generators: 'scripts/bench-generators.ts',
  rehearsal: 'scripts/bench-rehearsal-setup.ts',
  batched: 'scripts/bench-batched.ts',
  runner: 'scripts/bench-runner.ts',
  'test-database': 'scripts/bench-test-database.ts',
  guard: 'scripts/bench-guard.ts',
  cpu: 'scripts/bench-cpu.ts',
  inputs: 'scripts/bench-inputs.ts',
};

const names = process.argv.slice(2);
const unknown = names.filter((name) => !(name in BENCHES));
if (unknown.length) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')}; name some of ${Object.keys(BENCHES).join(', ')}, or none to run all`);
  process.exit(2);
}

for (const name of names.length ? names : Object.keys(BENCHES)) {
  console.error(`> bench ${name}`);
  const { status } = spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), [BENCHES[name]!], { cwd: ROOT, stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
