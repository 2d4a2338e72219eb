import { generateFiles, joinPathFragments, readJson, writeJson, type Tree } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildManifest, renderManifest, TEMPLATE_RECORD } from '@snippets/runner/scaffold';
import { SNIPPET_REPOS_DIR } from '../../snippet-repos';

export interface SnippetRepoGeneratorSchema {
  name: string;
  service: string;
  serviceImage: string;
  scope?: string;
  migrationsDir?: string;
  schemaFile?: string;
  schemaVersion?: string;
  ci?: string;
}

/** The CI systems a generated repo can carry a pipeline for. */
export const CI_SYSTEMS = ['github', 'jenkins'] as const;
type CiSystem = (typeof CI_SYSTEMS)[number];

interface NormalizedOptions {
  name: string;
  root: string;
  packageName: string;
  service: string;
  /** The dependency the repo's package.json declares on the service: a range, a path or a git URL. */
  serviceSpec: string;
  /** npm ci can fetch the service in the image build (a registry dependency), so its content can be compared with the image's. */
  serviceFromRegistry: boolean;
  serviceImage: string;
  migrationsDir: string;
  /** A schema SQL file inside the service package, for a schema not built by drizzle's migrator. */
  schemaFile?: string;
  /** service.schemaVersion as TypeScript source, when given. */
  schemaVersion?: string;
  dbName: string;
  ci: CiSystem;
  /** Kubernetes Job names are DNS labels (63 characters) that also carry the sha and a time. */
  jobPrefix: string;
}

const REPO_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
// An image reference without a tag or digest: the tag is SERVICE_VERSION.
const IMAGE = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

function workspacePackageVersion(tree: Tree, packageName: string): string | undefined {
  const rootJson = readJson<{ workspaces?: string[] }>(tree, 'package.json');
  for (const pattern of rootJson.workspaces ?? []) {
    const parent = pattern.replace(/\/\*$/, '');
    if (!tree.exists(parent)) continue;
    for (const child of tree.children(parent)) {
      const file = joinPathFragments(parent, child, 'package.json');
      if (!tree.exists(file)) continue;
      const json = readJson<{ name?: string; version?: string }>(tree, file);
      if (json.name === packageName) return json.version;
    }
  }
  return undefined;
}

/**
 * The dependency on the service the generated repo declares, from how the workspace's
 * package.json depends on it: a registry range as written, a git dependency as written, a
 * `file:` or `link:` path made relative to the repo (it sits two folders down), an alias.
 * Undefined when the workspace does not depend on it.
 */
function dependencySpec(tree: Tree, packageName: string, repoRoot: string): string | undefined {
  const root = readJson<{ dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>(tree, 'package.json');
  const spec = root.dependencies?.[packageName] ?? root.devDependencies?.[packageName];
  if (!spec) return undefined;
  const local = /^(file|link):(.+)$/.exec(spec);
  if (!local) return spec;
  const [, protocol, target] = local;
  if (path.isAbsolute(target!)) return spec;
  return `${protocol}:${path.posix.relative(repoRoot, path.posix.normalize(target!)) || '.'}`;
}

const SCHEMA_VERSION = /^(none|drizzle|([A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*\.[A-Za-z_][\w$]*)$/;

/** `--schemaVersion` as the config writes it: 'none', 'drizzle' or { schema?, table, column }. */
function schemaVersionConfig(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!SCHEMA_VERSION.test(value)) {
    throw new Error(`--schemaVersion '${value}' is not none, drizzle or [schema.]table.column; pass e.g. --schemaVersion=flyway_schema_history.version or --schemaVersion=none`);
  }
  if (value === 'none' || value === 'drizzle') return `'${value}'`;
  const parts = value.split('.');
  const [column, table, schema] = [parts.pop()!, parts.pop()!, parts.pop()];
  return `{ ${schema ? `schema: '${schema}', ` : ''}table: '${table}', column: '${column}' }`;
}

function normalizeOptions(tree: Tree, schema: SnippetRepoGeneratorSchema): NormalizedOptions {
  const name = schema.name ?? '';
  if (!REPO_NAME.test(name)) {
    throw new Error(`snippet repo name '${name}' is not valid; use lower-case words joined by - (e.g. payments-snippets)`);
  }
  const root = joinPathFragments(SNIPPET_REPOS_DIR, name);
  if (tree.exists(root)) throw new Error(`${root} already exists; pick another name or add snippets to it with \`nx g snippet NAME --repo=${name}\``);
  if (!schema.service || !PACKAGE_NAME.test(schema.service)) {
    throw new Error(`--service '${schema.service ?? ''}' is not a package name; pass the service package, e.g. --service=@acme/payments-service`);
  }
  const workspaceVersion = workspacePackageVersion(tree, schema.service);
  const serviceSpec = workspaceVersion ? `^${workspaceVersion}` : dependencySpec(tree, schema.service, root);
  if (!serviceSpec) {
    throw new Error(
      `--service '${schema.service}' is neither a package of this workspace nor a dependency in its package.json; pass the name in the service's package.json, or add it to the workspace first (npm install PKG, a file: path or a git URL)`,
    );
  }
  if (!schema.serviceImage || !IMAGE.test(schema.serviceImage)) {
    throw new Error(`--serviceImage '${schema.serviceImage ?? ''}' is not an image name without a tag; pass e.g. --serviceImage=ghcr.io/acme/payments-service`);
  }
  const scope = schema.scope?.replace(/^@/, '');
  if (scope !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(scope)) throw new Error(`--scope '${schema.scope}' is not an npm scope; pass e.g. --scope=acme`);
  if (schema.migrationsDir !== undefined && schema.schemaFile !== undefined) {
    throw new Error('--migrationsDir and --schemaFile both say how the schema is built; pass --migrationsDir for drizzle migrations or --schemaFile for a schema SQL file');
  }
  const migrationsDir = schema.migrationsDir ?? 'drizzle';
  const insidePackage = (value: string) => !path.isAbsolute(value) && !value.split('/').includes('..');
  if (!insidePackage(migrationsDir)) throw new Error(`--migrationsDir '${migrationsDir}' must be a folder inside the service package, e.g. drizzle`);
  if (schema.schemaFile !== undefined && !insidePackage(schema.schemaFile)) {
    throw new Error(`--schemaFile '${schema.schemaFile}' must be a file inside the service package, e.g. schema.sql`);
  }
  const schemaVersion = schemaVersionConfig(schema.schemaVersion);
  if (schema.schemaFile !== undefined && schemaVersion === undefined) {
    throw new Error("--schemaFile needs --schemaVersion: how the service's databases record their schema version, [schema.]table.column or none");
  }
  if (schema.schemaFile !== undefined && schemaVersion === "'drizzle'") throw new Error('--schemaVersion=drizzle needs --migrationsDir, the migrations drizzle records');
  const ci = schema.ci ?? 'github';
  if (!(CI_SYSTEMS as readonly string[]).includes(ci)) throw new Error(`--ci '${ci}' is not one of ${CI_SYSTEMS.join(', ')}; pass --ci=github or --ci=jenkins`);
  return {
    name,
    root,
    packageName: scope ? `@${scope}/${name}` : name,
    service: schema.service,
    serviceSpec,
    serviceFromRegistry: isRegistrySpec(serviceSpec),
    serviceImage: schema.serviceImage,
    migrationsDir,
    schemaFile: schema.schemaFile,
    schemaVersion,
    dbName: name.replaceAll('-', '_'),
    ci: ci as CiSystem,
    jobPrefix: name.slice(0, 40).replace(/-+$/, ''),
  };
}

/** A range, tag or `npm:` alias; not a path, a git URL (or GitHub's `owner/repo`) or a tarball URL. */
function isRegistrySpec(spec: string): boolean {
  return spec.startsWith('npm:') || !/^(file:|link:|git\+|git:|github:|gitlab:|bitbucket:|gist:|https?:)|\//.test(spec);
}

interface PluginManifest {
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * The runner and gates versions the generated repo pins: the workspace's own packages when
 * it has them (this monorepo), else the versions this plugin was released with (its
 * package.json, kept in step by nx release), so they never drift.
 */
function snippetsVersion(tree: Tree, name: '@snippets/runner' | '@snippets/gates'): string {
  const inWorkspace = workspacePackageVersion(tree, name);
  if (inWorkspace) return inWorkspace;
  // src/generators/snippet-repo -> the package root, in the workspace and when published.
  const own = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as PluginManifest;
  const range = own.dependencies?.[name] ?? own.peerDependencies?.[name];
  if (!range) throw new Error(`@snippets/nx-plugin does not name a version of ${name}; reinstall @snippets/nx-plugin`);
  return range.replace(/^[\^~]/, '');
}

/** Versions the generated repo pins, read from this workspace or this plugin so they never drift. */
function toolVersions(tree: Tree) {
  const root = readJson<{ devDependencies?: Record<string, string> }>(tree, 'package.json');
  return {
    runnerVersion: snippetsVersion(tree, '@snippets/runner'),
    gatesVersion: snippetsVersion(tree, '@snippets/gates'),
    vitestVersion: root.devDependencies?.vitest ?? '4.1.12',
    plopVersion: root.devDependencies?.plop ?? '4.0.5',
    typescriptVersion: root.devDependencies?.typescript ?? '5.9.3',
    typesNodeVersion: root.devDependencies?.['@types/node'] ?? '20.19.43',
  };
}

// Scripts the pipeline runs directly, so git must record them as executable.
const EXECUTABLES = ['ci/approvers.sh', 'ci/base.sh', 'ci/build-image.sh', 'ci/expected-snippets.sh', 'ci/gates.sh', 'ci/registry-login.sh', 'deploy/run.sh', 'deploy/ecs/run-task.sh', 'deploy/kubernetes/run-job.sh'];

/** `nx g snippet-repo NAME --service=PKG --serviceImage=IMAGE [--ci=github|jenkins]`: an independent snippet repo. */
export default async function snippetRepoGenerator(tree: Tree, schema: SnippetRepoGeneratorSchema): Promise<void> {
  const options = normalizeOptions(tree, schema);
  const substitutions = { ...options, ...toolVersions(tree), dot: '.', tmpl: '' };
  generateFiles(tree, path.join(__dirname, 'files'), options.root, substitutions);
  // The pipeline: one CI system's file, calling the same scripts under ci/ and deploy/.
  generateFiles(tree, path.join(__dirname, `files-ci-${options.ci}`), options.root, substitutions);
  for (const script of EXECUTABLES) tree.changePermissions(joinPathFragments(options.root, script), '755');
  tree.write(joinPathFragments(options.root, 'snippets.lock'), renderManifest(buildManifest([])));
  writeJson(tree, joinPathFragments(options.root, TEMPLATE_RECORD), templateRecord(schema, options));
}

/** Where a repo records the template version and answers that made it, for bringing it up to date later. */
export { TEMPLATE_RECORD };

function templateRecord(schema: SnippetRepoGeneratorSchema, options: NormalizedOptions) {
  const own = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { name: string; version: string };
  return {
    template: `${own.name}@${own.version}`,
    options: {
      name: options.name,
      service: options.service,
      serviceImage: options.serviceImage,
      ...(schema.scope ? { scope: schema.scope } : {}),
      ...(schema.schemaFile !== undefined ? { schemaFile: schema.schemaFile, schemaVersion: schema.schemaVersion } : { migrationsDir: options.migrationsDir }),
      ...(schema.schemaFile === undefined && schema.schemaVersion !== undefined ? { schemaVersion: schema.schemaVersion } : {}),
      ci: options.ci,
    },
  };
}
