import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditFromEnv } from './audit.ts';
import { openDatabase, type Database } from './database/database.ts';
import { discoverSnippetFiles } from './snippets/discovery.ts';
import { InputError } from './errors.ts';
import { applySnippet, type ApplyResult } from './execution/executor.ts';
import { CONFIG_FILE, loadConfig } from './config.ts';
import { cloneServiceTemplate, openPgliteWithService, openThrowawayDatabase } from './service/service-schema-cache.ts';
import { snippetStore } from './store/snippet-store.ts';
import { loadSnippets } from './snippets/load-snippets.ts';
import { prepareFixtureInputs } from './inputs/prepare-inputs.ts';

/**
 * A throwaway database for a snippet's test: PGlite in memory by default, or a fresh
 * database on the PostgreSQL server in SNIPPETS_TEST_DATABASE_URL, dropped on close.
 */
export async function openTestDatabase(env: Record<string, string | undefined> = process.env): Promise<Database> {
  const serverUrl = env.SNIPPETS_TEST_DATABASE_URL;
  if (!serverUrl) return openDatabase({ driver: 'pglite', dataDir: undefined, display: 'pglite:memory' });
  return openThrowawayDatabase(serverUrl);
}

export interface ApplySnippetFileOptions {
  /**
   * A fixture file for each input the snippet declares, by name: small fake data committed
   * beside the test. Validated like a run's input; not checked against snippets.lock.
   */
  inputs?: Record<string, string | URL>;
}

/**
 * Applies one snippet file the way `snippets run` does (up, verify, touches check and
 * ledger row in one transaction), without the repo lock or the manifest. As in a dry run
 * or a rehearsal, the snippet's code may connect to nothing but its db and the hosts
 * `outbound.allow` of the repo's snippets.config.ts names.
 */
export async function applySnippetFile(database: Database, file: string | URL, options: ApplySnippetFileOptions = {}): Promise<ApplyResult> {
  const filePath = typeof file === 'string' ? file : fileURLToPath(file);
  const files = await discoverSnippetFiles(path.dirname(filePath), '.');
  const target = files.find((f) => f.file === filePath);
  if (!target) throw new InputError(`${filePath}: not a snippet file (NNNN_slug.ts)`, { subject: filePath });
  // Dependencies are validated against the snippets beside it, as in a real run.
  const [snippet] = (await loadSnippets(files)).filter((s) => s.id === target.id);
  const fixtures = Object.fromEntries(Object.entries(options.inputs ?? {}).map(([name, at]) => [name, typeof at === 'string' ? path.resolve(at) : fileURLToPath(at)]));
  const inputs = new Map([[snippet!.id, await prepareFixtureInputs(snippet!, fixtures)]]);
  await snippetStore(database.db, 'test').upgrade();
  return applySnippet(database.db, snippet!, {
    repo: 'test',
    audit: auditFromEnv(),
    timeouts: { statementMs: 60_000, lockMs: 10_000, runLockWaitMs: 0 },
    onLog: () => {},
    requireRepoLock: false,
    dryRun: false,
    setting: 'test',
    inputs,
    outboundAllow: await outboundAllowBeside(path.dirname(filePath)),
  });
}

/** `outbound.allow` of the snippets.config.ts in the repo that holds `snippetsDir`, if there is one. */
async function outboundAllowBeside(snippetsDir: string): Promise<readonly string[]> {
  const repoRoot = path.dirname(snippetsDir);
  if (!existsSync(path.join(repoRoot, CONFIG_FILE))) return [];
  return (await loadConfig(repoRoot)).outbound.allow;
}

/**
 * A throwaway database with the service's schema, as `snippets.config.ts` of the repo at
 * `repoRoot` names it (migrations or schema file): what a snippet's test runs on. The
 * schema is built once per version of its source and each call gets a fresh copy: a clone
 * of a template database on the server in SNIPPETS_TEST_DATABASE_URL, or an in-memory
 * PGlite loaded from a snapshot kept in node_modules/.cache/snippets.
 */
export async function openServiceTestDatabase(repoRoot: string | URL, env: Record<string, string | undefined> = process.env): Promise<Database> {
  const root = typeof repoRoot === 'string' ? repoRoot : fileURLToPath(repoRoot);
  const config = await loadConfig(root);
  if (!config.service) {
    throw new InputError('snippets.config.ts: has no service.migrationsFolder or service.schemaFile, so there is no service schema to build; add one', {
      subject: 'snippets.config.ts',
    });
  }
  const serverUrl = env.SNIPPETS_TEST_DATABASE_URL;
  return serverUrl ? cloneServiceTemplate(serverUrl, config.service) : openPgliteWithService(root, config.service);
}
