import { sql } from 'drizzle-orm';
import { auditFromEnv } from '../audit.ts';
import type { ParsedConfig } from '../config.ts';
import type { Database } from '../database/database.ts';
import { queryRows } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { describeCause, SnippetsError } from '../errors.ts';
import { applySnippet, revertSnippet, withRollback } from '../execution/executor.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import { tableRef, type QualifiedTable } from '../snippets/table-names.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { createLocalCopies } from '../inputs/local-copies.ts';
import { inputLocations, prepareInputs } from '../inputs/prepare-inputs.ts';
import type { PreparedInputs } from '../inputs/snippet-inputs.ts';
import { requireManifest } from '../repo.ts';

/** Whether a snippet's down put back every row its up changed: not reversible without a down, unknown when an earlier one failed. */
export type UndoEvidence = { reversible: false } | { reversible: true; restored: boolean; differingTables: string[] } | { reversible: 'unknown'; reason: string };

/** A digest of a table's whole content, to prove `down` put every row back. */
async function tableDigest(db: SnippetDb, table: QualifiedTable): Promise<string> {
  const [row] = await queryRows<{ digest: string }>(
    db,
    sql`select md5(coalesce(string_agg(t::text, E'\n' order by t::text), '')) as digest from ${tableRef(table)} t`,
  );
  return row!.digest;
}

/**
 * Runs each pending snippet's up, then its down, in one transaction that is rolled back,
 * comparing the touched tables' content before up and after down. Each snippet's up is
 * run again afterwards so the next one starts from the state it expects.
 */
export async function checkUndo(database: Database, config: ParsedConfig, pending: LoadedSnippet[], env: Record<string, string | undefined> = process.env): Promise<Map<string, UndoEvidence>> {
  // The rehearsal's inputs, from the locations the environment gives (SNIPPETS_INPUTS), as its run's.
  const copies = pending.some((s) => Object.keys(s.definition.inputs ?? {}).length) ? createLocalCopies() : undefined;
  try {
    const inputs = copies && (await prepareInputs(pending, { repoRoot: config.repoRoot, manifest: await requireManifest(config), locations: inputLocations([], env), env, copies }));
    return await undoEach(database, config, pending, inputs);
  } finally {
    copies?.remove();
  }
}

async function undoEach(database: Database, config: ParsedConfig, pending: LoadedSnippet[], inputs: Map<string, PreparedInputs> | undefined): Promise<Map<string, UndoEvidence>> {
  const results = new Map<string, UndoEvidence>();
  const options = {
    inputs,
    repo: config.repo,
    audit: auditFromEnv(),
    timeouts: config.timeouts,
    onLog: () => {},
    requireRepoLock: false,
    dryRun: true,
    setting: 'rehearsal' as const,
    outboundAllow: config.outbound.allow,
  };
  await snippetStore(database.db, config.repo).upgrade();
  await withRollback(database.db, async (tx) => {
    for (const [index, snippet] of pending.entries()) {
      if (snippet.replaces) continue;
      if (!snippet.definition.down) {
        results.set(snippet.id, { reversible: false });
      }
      const tables = new Set(snippet.definition.touches);
      const before = new Map<string, string>();
      try {
        for (const table of tables) before.set(table, await tableDigest(tx, table));
        // The run enforces touches, so the declared tables are all up can have changed.
        await applySnippet(tx, snippet, options);
        if (!snippet.definition.down) continue;
        await revertSnippet(tx, snippet, 'snippet-gates undo check', options);
        const differing: string[] = [];
        for (const table of tables) {
          if (before.get(table) !== (await tableDigest(tx, table))) differing.push(table);
        }
        results.set(snippet.id, { reversible: true, restored: differing.length === 0, differingTables: differing });
        await applySnippet(tx, snippet, options);
      } catch (error) {
        const reason = error instanceof SnippetsError ? error.message : describeCause(error);
        for (const later of pending.slice(index)) {
          if (!results.has(later.id) && later.definition.down) results.set(later.id, { reversible: 'unknown', reason });
        }
        return;
      }
    }
  });
  return results;
}
