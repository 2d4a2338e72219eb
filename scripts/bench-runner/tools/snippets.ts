import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WORKSPACE_ROOT, type Command, type Tool, type Unit } from '../tool.ts';

const exec = promisify(execFile);

/** The repo's own `snippets` binary: the built package (npm run build:packages), as a repo installs it. */
const bin = (dir: string) => path.join(dir, 'node_modules', '.bin', 'snippets');
const BUILT_RUNNER = path.join(WORKSPACE_ROOT, 'dist', 'libs', 'runner');

function snippetSource(id: string): string {
  return `import { defineSnippet } from '@snippets/runner';

export default defineSnippet({
  description: 'record that ${id} ran',
  touches: ['effects'],
  async up({ rows, sql }) {
    await rows(sql\`insert into effects (unit) values (\${${JSON.stringify(id)}})\`);
  },
});
`;
}

/**
 * A snippet repo of one TypeScript snippet per unit, with its config and the `snippets.lock`
 * that `snippets manifest` writes, installed with the built runner at `runnerDir`.
 */
export async function prepareRepo(dir: string, units: Unit[], runnerDir = BUILT_RUNNER): Promise<void> {
  // node_modules as npm lays out an installed repo: the published runner and its bin. Its own
  // dependencies resolve from where it is built, the workspace's node_modules.
  await mkdir(path.join(dir, 'node_modules', '@snippets'), { recursive: true });
  await mkdir(path.join(dir, 'node_modules', '.bin'));
  await symlink(runnerDir, path.join(dir, 'node_modules', '@snippets', 'runner'), 'dir');
  await symlink(path.join(runnerDir, 'bin', 'snippets.js'), bin(dir));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'bench-snippets', private: true, type: 'module' }));
  await writeFile(path.join(dir, 'snippets.config.ts'), `import { defineConfig } from '@snippets/runner';\n\nexport default defineConfig({ repo: 'bench' });\n`);
  await mkdir(path.join(dir, 'snippets'));
  for (const { id } of units) await writeFile(path.join(dir, 'snippets', `${id}.ts`), snippetSource(id));
  await exec(bin(dir), ['manifest'], { cwd: dir });
}

/** `snippets <command>` in the repo, as a pipeline step runs it. */
export const snippetsCommand = (dir: string, ...args: string[]): Command => ({ file: bin(dir), args });

/**
 * An empty ledger facing a repo with history is refused unless the run names what it
 * expects, as CI does from the merge: the first run passes every id, the idle one none.
 */
const expectAll = (units: Unit[]) => ['--expect', units.map((u) => u.id).join(',')];

export const snippets: Tool = {
  name: 'snippets run',
  invocation: '`snippets run --expect ID,…` (the built package from node_modules/.bin; TypeScript snippets); nothing pending: `snippets run`',
  prepare: (dir, units) => prepareRepo(dir, units),
  apply: (dir, units) => snippetsCommand(dir, 'run', ...expectAll(units)),
  idle: (dir) => snippetsCommand(dir, 'run'),
  ledgerCount: "select count(*)::int as n from snippets.ledger where status = 'applied'",
};

/**
 * The same run as in a fresh container whose image warmed no cache: tsx's transform cache
 * off and the compiled snippet bundle removed first, so the run compiles it.
 */
const cold = (command: Command): Command => ({
  file: 'sh',
  args: ['-c', 'rm -rf node_modules/.cache && exec "$0" "$@"', command.file, ...command.args],
  env: { ...command.env, TSX_DISABLE_CACHE: '1' },
});

export const snippetsColdCache: Tool = {
  ...snippets,
  name: 'snippets run, cold caches',
  invocation: 'the same with `TSX_DISABLE_CACHE=1` and no compiled bundle (node_modules/.cache removed first)',
  apply: (dir, units) => cold(snippets.apply(dir, units)),
  idle: (dir, units) => cold(snippets.idle!(dir, units)),
};
