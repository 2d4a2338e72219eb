import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { joinPathFragments, logger, readJson, writeJson, type Tree } from '@nx/devkit';
import { createTree } from '@nx/devkit/testing';
import { SNIPPET_REPOS_DIR, snippetRepoRoot } from '../../snippet-repos';
import snippetRepoGenerator, { TEMPLATE_RECORD, type SnippetRepoGeneratorSchema } from '../snippet-repo/generator';

export interface UpdateRepoGeneratorSchema {
  repo: string;
  from?: string;
}

interface TemplateRecord {
  template: string;
  options: SnippetRepoGeneratorSchema;
}

type RepoGenerator = (tree: Tree, schema: SnippetRepoGeneratorSchema) => Promise<void>;
type Files = Map<string, string>;

/** The repo's own work, never the template's: its snippets and their manifest. */
const OWNED = [/^snippets\//, /^snippets\.lock$/, new RegExp(`^${TEMPLATE_RECORD.replace('.', '\\.')}$`)];

/** The manifests a repo generator reads: the workspace's package.json and its packages'. */
function manifests(tree: Tree): string[] {
  const { workspaces = [] } = readJson<{ workspaces?: string[] }>(tree, 'package.json');
  // Not the snippet repos: the generator must find the repo's place free.
  const parents = workspaces.map((pattern) => pattern.replace(/\/\*$/, '')).filter((parent) => parent !== SNIPPET_REPOS_DIR && tree.exists(parent));
  return ['package.json', ...parents.flatMap((parent) => tree.children(parent).map((child) => joinPathFragments(parent, child, 'package.json')))].filter((file) => tree.exists(file));
}

interface Rendered {
  files: Files;
  /** File modes the generator set (the pipeline's scripts are executable). */
  modes: Map<string, string>;
}

/**
 * What `generator` makes for `options`, in a tree of its own (in memory; Nx's testing
 * module has the only public constructor of one) holding the manifests it reads.
 */
async function render(tree: Tree, root: string, generator: RepoGenerator, options: SnippetRepoGeneratorSchema): Promise<Rendered> {
  const scratch = createTree();
  for (const file of manifests(tree)) scratch.write(file, tree.read(file)!);
  await generator(scratch, options);
  const rendered: Rendered = { files: new Map(), modes: new Map() };
  for (const change of scratch.listChanges()) {
    if (change.type === 'DELETE' || !change.path.startsWith(`${root}/`)) continue;
    const file = change.path.slice(root.length + 1);
    rendered.files.set(file, change.content!.toString('utf-8'));
    if (change.options?.mode) rendered.modes.set(file, String(change.options.mode));
  }
  return rendered;
}

/** git merge-file: the three-way merge of one file, or undefined on a conflict. */
function mergeFile(ours: string, base: string, theirs: string): string | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'snippets-merge-'));
  try {
    const [o, b, t] = ['ours', 'base', 'theirs'].map((name, i) => {
      const file = path.join(dir, name);
      writeFileSync(file, [ours, base, theirs][i]!);
      return file;
    });
    try {
      return execFileSync('git', ['merge-file', '-p', o!, b!, t!], { encoding: 'utf8' });
    } catch (error) {
      if ((error as { status?: number }).status && (error as { status: number }).status > 0) return undefined; // conflicts
      throw error;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The plugin that made the repo, fetched with `npm pack` from `projectDir` (so the project's
 * .npmrc names the registry) and unpacked into the node_modules that holds this plugin's
 * own dependencies, where its require()s resolve.
 */
function fetchPlugin(projectDir: string, spec: string): string {
  const nodeModules = path.resolve(path.dirname(require.resolve('@nx/devkit/package.json')), '../..');
  const dir = path.join(nodeModules, '.cache', 'snippets-templates', spec.replace(/[/@]/g, '_'));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let tarball: string;
  try {
    tarball = execFileSync('npm', ['pack', spec, '--silent', '--pack-destination', dir], { cwd: projectDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').at(-1)!;
  } catch (error) {
    const reason = String((error as { stderr?: string }).stderr ?? '').split('\n').find((line) => /npm error (?!code|A complete log)/.test(line))?.replace(/^npm error\s*/, '');
    throw new Error(`cannot fetch ${spec} (the template that made the repo) with npm pack: ${reason ?? (error as Error).message}; configure the registry it was published to in .npmrc, or pass --from DIR`);
  }
  execFileSync('tar', ['xzf', path.join(dir, tarball)], { cwd: dir });
  return path.join(dir, 'package');
}

export interface UpdateReport {
  updated: string[];
  added: string[];
  removed: string[];
  merged: string[];
  conflicts: string[];
}

/**
 * `nx g update-repo --repo=NAME`: applies what changed in the template since the version
 * that made the repo (snippets-template.json) to the repo, like `copier update`: a file the
 * repo never edited takes the new template, one the template did not change keeps the
 * repo's edits, one both changed is merged three ways, and one whose changes collide is
 * left as it is and reported. The repo's snippets and snippets.lock are never touched.
 * `projectDir`: the directory npm runs in and --from is relative to (the workspace root).
 */
export async function updateRepo(tree: Tree, schema: UpdateRepoGeneratorSchema, projectDir = tree.root): Promise<UpdateReport> {
  const root = snippetRepoRoot(tree, schema.repo);
  const recordFile = joinPathFragments(root, TEMPLATE_RECORD);
  if (!tree.exists(recordFile)) {
    throw new Error(`${recordFile} is missing: the repo predates recorded templates; add it with the template version and options that made the repo`);
  }
  const record = readJson<TemplateRecord>(tree, recordFile);
  const own = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { name: string; version: string };
  const report: UpdateReport = { updated: [], added: [], removed: [], merged: [], conflicts: [] };
  if (record.template === `${own.name}@${own.version}`) {
    logger.info(`${root} is made by ${record.template} already; nothing to update`);
    return report;
  }

  const oldPlugin = schema.from ? path.resolve(projectDir, schema.from) : fetchPlugin(projectDir, record.template);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the old plugin is CommonJS, found at run time
  const oldGenerator = (require(path.join(oldPlugin, 'src/generators/snippet-repo/generator')) as { default: RepoGenerator }).default;
  const base = (await render(tree, root, oldGenerator, record.options)).files;
  const { files: theirs, modes } = await render(tree, root, snippetRepoGenerator, record.options);

  for (const file of [...new Set([...base.keys(), ...theirs.keys()])].sort()) {
    if (OWNED.some((pattern) => pattern.test(file))) continue;
    const target = joinPathFragments(root, file);
    const ours = tree.exists(target) ? tree.read(target, 'utf-8')! : undefined;
    const [was, now] = [base.get(file), theirs.get(file)];
    if (now === was || ours === now) continue; // the template did not change it, or the repo has it already
    if (now === undefined) {
      if (ours === was) (tree.delete(target), report.removed.push(file));
      else if (ours !== undefined) report.conflicts.push(`${file} (the template dropped it; the repo edited it)`);
      continue;
    }
    if (ours === was || ours === undefined) {
      tree.write(target, now);
      if (modes.has(file)) tree.changePermissions(target, modes.get(file)!);
      (was === undefined ? report.added : report.updated).push(file);
      continue;
    }
    const merged = was === undefined ? undefined : mergeFile(ours, was, now);
    if (merged === undefined) report.conflicts.push(file);
    else (tree.write(target, merged), report.merged.push(file));
  }

  for (const [kind, files] of Object.entries(report)) if (files.length) logger.info(`${kind}: ${files.join(', ')}`);
  if (report.conflicts.length) {
    // The record stays at the old version, so running again after fixing them retries them.
    logger.warn(`${report.conflicts.length} file(s) changed both in the template and in the repo; merge them by hand (the other files are updated)`);
  } else {
    writeJson(tree, recordFile, { ...record, template: `${own.name}@${own.version}` });
  }
  return report;
}

/** The generator Nx runs; it logs the report (Nx takes a returned function for a task to run). */
export default async function updateRepoGenerator(tree: Tree, schema: UpdateRepoGeneratorSchema): Promise<void> {
  await updateRepo(tree, schema);
}
