/**
 * `npm run bench`: wall time of `nx g snippet` in the workspace and of `npx plop snippet`
 * in an extracted repo, median of several runs, against a bare `node` start measured in
 * the same run. Both write the same files; the difference is what each tool loads.
 */
import { cp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { copyWorkspace, nx, run, WORKSPACE_ROOT } from './workspace-copy.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function timed(label: string, once: (i: number) => Promise<{ code: number; output: string }>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const result = await once(i);
    samples.push(performance.now() - start);
    if (result.code !== 0) throw new Error(`${label} failed:\n${result.output}`);
  }
  return median(samples);
}

const workspace = await copyWorkspace();
const extracted = path.join(os.tmpdir(), `snippets-bench-${process.pid}`);
try {
  const created = await nx(['g', 'snippet-repo', 'bench-snippets', '--service=@snippets/example-service', '--serviceImage=registry.local/svc'], workspace.root);
  if (created.code !== 0) throw new Error(created.output);
  await cp(path.join(workspace.root, 'snippet-repos/bench-snippets'), extracted, { recursive: true });
  await symlink(path.join(WORKSPACE_ROOT, 'node_modules'), path.join(extracted, 'node_modules'), 'dir');

  const node = await timed('node', () => run(process.execPath, ['-e', '0'], extracted));
  const nxSnippet = await timed('nx g snippet', (i) => nx(['g', 'snippet', `bench-nx-${i}`, '--repo=bench-snippets'], workspace.root));
  const plopSnippet = await timed('npx plop snippet', (i) => run(path.join(WORKSPACE_ROOT, 'node_modules/.bin/plop'), ['snippet', `bench-plop-${i}`], extracted));

  const rows = [
    ['node -e 0 (baseline)', node],
    ['nx g snippet', nxSnippet],
    ['npx plop snippet', plopSnippet],
  ] as const;
  console.log(`median of ${RUNS} runs, ${os.cpus().length} cores, Node ${process.version}`);
  for (const [label, ms] of rows) console.log(`${label.padEnd(22)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / node).toFixed(1).padStart(5)}× baseline`);
  console.log(`nx g snippet / npx plop snippet: ${(nxSnippet / plopSnippet).toFixed(2)}×`);
} finally {
  await rm(extracted, { recursive: true, force: true });
  await workspace.dispose();
}
