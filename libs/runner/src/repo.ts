import path from 'node:path';
import { auditFromEnv, type AuditContext } from './audit.ts';
import { loadConfig, loadConfigIfPresent, type ParsedConfig } from './config.ts';
import { openDatabase, parseDatabaseUrl, type Database, type DatabaseTarget } from './database/database.ts';
import { discoverSnippetFiles, type SnippetFile } from './snippets/discovery.ts';
import { InputError } from './errors.ts';
import { MANIFEST_FILE, readManifest, type Manifest } from './snippets/manifest.ts';
import { installedService } from './service/service-package.ts';

/** Everything a command needs from the repo and the environment, checked once at the boundary. */
export interface RepoSession {
  config: ParsedConfig;
  files: SnippetFile[];
  target: DatabaseTarget;
  audit: AuditContext;
}

export interface SessionInput {
  cwd: string;
  env: Record<string, string | undefined>;
}

export async function openRepo({ cwd, env }: SessionInput): Promise<RepoSession> {
  const repoRoot = path.resolve(cwd);
  const config = await loadConfig(repoRoot);
  const files = await discoverSnippetFiles(repoRoot, config.snippetsDir);
  const target = parseDatabaseUrl(env.DATABASE_URL, repoRoot);
  const service = await installedService(config);
  return { config, files, target, audit: { ...auditFromEnv(env), servicePackage: service?.name ?? null, serviceVersion: service?.version ?? null } };
}

/**
 * For commands a service's own pipeline runs too (the release lock, notify): the
 * database from DATABASE_URL, and the repo's config only where there is one.
 */
export async function openTarget({ cwd, env }: SessionInput): Promise<{ config?: ParsedConfig; target: DatabaseTarget; audit: AuditContext }> {
  const repoRoot = path.resolve(cwd);
  return { config: await loadConfigIfPresent(repoRoot), target: parseDatabaseUrl(env.DATABASE_URL, repoRoot), audit: auditFromEnv(env) };
}

export async function requireManifest(config: ParsedConfig): Promise<Manifest> {
  const manifest = await readManifest(config.manifestFile);
  if (!manifest) {
    throw new InputError(`${MANIFEST_FILE}: not found; run \`snippets manifest\` and commit it with the snippets`, {
      subject: config.manifestFile,
    });
  }
  return manifest;
}

export function findFile(files: SnippetFile[], id: string, flag: string): SnippetFile {
  const file = files.find((f) => f.id === id);
  if (!file) {
    const known = files.length ? ` (known: ${files.map((f) => f.id).join(', ')})` : '';
    throw new InputError(`${flag} '${id}' is not a snippet in this repo${known}; use a snippet id (file stem)`, { subject: flag });
  }
  return file;
}

export async function withDatabase<T>(target: DatabaseTarget, work: (database: Database) => Promise<T>): Promise<T> {
  const database = await openDatabase(target);
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}
