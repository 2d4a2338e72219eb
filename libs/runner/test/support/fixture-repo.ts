import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKSPACE_NODE_MODULES = fileURLToPath(new URL('../../../../node_modules', import.meta.url));

export interface FixtureRepo {
  dir: string;
  write(relativePath: string, content: string): Promise<void>;
  remove(relativePath: string): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A snippet repo in a temporary directory, resolving `@snippets/runner` through the
 * workspace's node_modules as an installed repo would.
 */
export async function createFixtureRepo(snippets: Record<string, string>, config = defaultConfig()): Promise<FixtureRepo> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-repo-'));
  await symlink(WORKSPACE_NODE_MODULES, path.join(dir, 'node_modules'), 'dir');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'fixture-snippets', private: true, type: 'module' }));
  await writeFile(path.join(dir, 'snippets.config.ts'), config);
  await mkdir(path.join(dir, 'snippets'));
  const repo: FixtureRepo = {
    dir,
    write: async (relativePath, content) => {
      await mkdir(path.dirname(path.join(dir, relativePath)), { recursive: true });
      await writeFile(path.join(dir, relativePath), content);
    },
    remove: (relativePath) => rm(path.join(dir, relativePath), { force: true }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [name, source] of Object.entries(snippets)) await repo.write(`snippets/${name}`, source);
  return repo;
}

export function defaultConfig(extra = ''): string {
  return `import { defineConfig } from '@snippets/runner';
export default defineConfig({ repo: 'fixture', timeouts: { statement: '1m', lock: '5s', runLockWait: '2m' }${extra} });
`;
}

export interface EffectSnippetOptions {
  dependsOn?: string[];
  touches?: string[];
  /** Extra statements at the start of up(), e.g. a sleep. */
  before?: string;
  verify?: string;
  down?: boolean;
  requires?: string[];
  transaction?: string;
}

/**
 * A snippet whose only effect is one row in `effects` naming it, so a test can count
 * how often it really ran, independently of the ledger.
 */
export function effectSnippet(id: string, options: EffectSnippetOptions = {}): string {
  const fields = [
    `description: 'record that ${id} ran'`,
    options.dependsOn ? `dependsOn: ${JSON.stringify(options.dependsOn)}` : '',
    options.requires ? `requires: { migrations: ${JSON.stringify(options.requires)} }` : '',
    `touches: ${JSON.stringify(options.touches ?? ['effects'])}`,
    options.transaction ? `transaction: ${JSON.stringify(options.transaction)}` : '',
    `async up({ rows, sql }) {
      ${options.before ?? ''}
      await rows(sql\`insert into effects (snippet) values (\${${JSON.stringify(id)}})\`);
    }`,
    `async verify({ rows, sql }) {
      ${options.verify ?? `const [row] = await rows(sql\`select count(*)::int as n from effects where snippet = \${${JSON.stringify(id)}}\`);
      return { ok: row.n === 1, message: 'expected one effect row, found ' + row.n };`}
    }`,
    options.down
      ? `async down({ rows, sql }) { await rows(sql\`delete from effects where snippet = \${${JSON.stringify(id)}}\`); }`
      : '',
  ].filter(Boolean);
  return `import { defineSnippet } from '@snippets/runner';\n\nexport default defineSnippet({\n  ${fields.join(',\n  ')},\n});\n`;
}
