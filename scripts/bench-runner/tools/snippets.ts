import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WORKSPACE_ROOT, type Command, type Tool, type Unit } from '../tool.ts';

const exec = promisify(execFile);

/** The repo's own `snippets` binary: the workspace's, linked in as an installed repo resolves it. */
const bin = (dir: string) => path.join(dir, 'node_modules', '.bin', 'snippets');

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

/** A snippet repo of one TypeScript snippet per unit, with its config and the `snippets.lock` that `snippets manifest` writes. */
async function prepareRepo(dir: string, units: Unit[]): Promise<void> {
  await symlink(path.join(WORKSPACE_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
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
  invocation: '`snippets run --expect ID,…` (node_modules/.bin; TypeScript snippets through tsx); nothing pending: `snippets run`',
  prepare: prepareRepo,
  apply: (dir, units) => snippetsCommand(dir, 'run', ...expectAll(units)),
  idle: (dir) => snippetsCommand(dir, 'run'),
  ledgerCount: "select count(*)::int as n from snippets.ledger where status = 'applied'",
};

/** The same run with tsx's transform cache off, as in a fresh container whose image has no warm cache. */
export const snippetsColdCache: Tool = {
  ...snippets,
  name: 'snippets run, cold tsx cache',
  invocation: 'the same with `TSX_DISABLE_CACHE=1`',
  apply: (dir, units) => ({ ...snippets.apply(dir, units), env: { TSX_DISABLE_CACHE: '1' } }),
  idle: (dir, units) => ({ ...snippets.idle!(dir, units), env: { TSX_DISABLE_CACHE: '1' } }),
};
