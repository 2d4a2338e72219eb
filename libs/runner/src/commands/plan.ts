import type { Database } from '../database/database.ts';
import { InputError } from '../errors.ts';
import { snippetStore, type PlanLedgerRow } from '../store/snippet-store.ts';
import { isSquashFile, loadSnippets, type LoadedSnippet } from '../snippets/load-snippets.ts';
import { plan, type Plan } from '../planning/plan.ts';
import { openRepo, requireManifest, withDatabase, type RepoSession, type SessionInput } from '../repo.ts';
import { readServiceMigrations } from '../service/service-migrations.ts';
import { snippetsAddedBetween } from '../planning/git-range.ts';
import type { ManifestInputs } from '../snippets/manifest.ts';

export interface PlanOptions {
  expect?: string[];
  /** BASE..HEAD: expect exactly the snippets the merge added. */
  expectFromGit?: string;
}

export interface PlanReport extends Plan {
  repo: string;
  database: string;
  /** What snippets.lock approves of each pending snippet's inputs: a digest, or null where none is approved. */
  inputs: ManifestInputs;
}

/** Reads and checks the repo and the options, before any database is opened. */
export async function prepareRun(input: SessionInput, options: PlanOptions) {
  const session = await openRepo(input);
  const manifest = await requireManifest(session.config);
  if (options.expect && options.expectFromGit) {
    throw new InputError('--expect and --expect-from-git both name the expected snippets; pass one of them', { subject: '--expect-from-git' });
  }
  const expect = options.expectFromGit ? await snippetsAddedBetween(session.config.repoRoot, session.config.snippetsDir, options.expectFromGit) : options.expect;
  const known = new Set(session.files.map((f) => f.id));
  const unknown = (expect ?? []).filter((id) => !known.has(id));
  if (unknown.length) {
    throw new InputError(`--expect names ${unknown.join(', ')}, not snippets in this repo; pass snippet ids (file stems)`, {
      subject: '--expect',
    });
  }
  return { session, manifest, expect };
}

export type RunSetup = Awaited<ReturnType<typeof prepareRun>>;

/**
 * Reads the database's side of the plan (ledger, service migrations), loads the snippets
 * that may run and plans. Read-only. A snippet the ledger records ran as reviewed (the plan
 * checks its checksum), so it is not imported again: on a repo of thousands, importing and
 * validating every one was most of the start-up of a run with little to do. Squashes are
 * always loaded, for what they replace. A snippet that does not load is an InputError.
 */
export async function planAgainst(
  { session, manifest, expect }: RunSetup,
  database: Database,
): Promise<Plan & { snippets: LoadedSnippet[]; session: RepoSession; ledger: PlanLedgerRow[] }> {
  const ledger = await snippetStore(database.db, session.config.repo).planLedger();
  const recorded = new Set(ledger.map((row) => row.id));
  const snippets = await loadSnippets(session.files, session.config.repoRoot, (file) => !recorded.has(file.id) || isSquashFile(file));
  const serviceMigrations = await readServiceMigrations(session.config, snippets, database.db);
  const result = plan({ files: session.files, snippets, ledger, manifest, expect, serviceMigrations });
  return { ...result, snippets, session, ledger };
}

export async function planCommand(input: SessionInput, options: PlanOptions): Promise<PlanReport> {
  const prepared = await prepareRun(input, options);
  return withDatabase(prepared.session.target, async (database) => {
    const { pending, refusals } = await planAgainst(prepared, database);
    const inputs = Object.fromEntries(
      pending
        .filter((s) => Object.keys(s.definition.inputs ?? {}).length)
        .map((s) => [s.id, Object.fromEntries(Object.keys(s.definition.inputs!).map((name) => [name, prepared.manifest.inputs?.[s.id]?.[name] ?? null]))]),
    );
    return { repo: prepared.session.config.repo, database: database.display, pending, refusals, inputs };
  });
}
