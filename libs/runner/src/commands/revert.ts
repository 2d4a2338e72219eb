import { InputError, SafetyRefusal, SnippetFailed } from '../errors.ts';
import { revertSnippet } from '../execution/executor.ts';
import type { TableChanges } from '../checks/change-counts.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { loadSnippets } from '../snippets/load-snippets.ts';
import { withRepoLock } from '../database/lock.ts';
import { findFile, openRepo, withDatabase, type SessionInput } from '../repo.ts';
import type { LogSink } from '../execution/executor.ts';

export interface RevertReport {
  repo: string;
  id: string;
  reason: string;
  rowsChanged: TableChanges;
  durationMs: number;
}

/**
 * `snippets revert ID --reason`: the last resort. Runs the snippet's `down` and marks it
 * reverted, audited with the reason. A reverted snippet never runs again; a fix after
 * it is a new snippet.
 */
export async function revert(input: SessionInput, id: string, reason: string, onLog: LogSink): Promise<RevertReport> {
  if (!reason.trim()) throw new InputError('--reason is empty; say why this snippet is being reverted', { subject: '--reason' });
  const session = await openRepo(input);
  const { config } = session;
  const file = findFile(session.files, id, 'revert');
  const snippets = await loadSnippets(session.files, session.config.repoRoot);
  const snippet = snippets.find((s) => s.id === file.id)!;
  if (!snippet.definition.down) {
    throw new InputError(`${snippet.displayPath}: has no down(); write a new snippet that undoes its effect instead`, {
      subject: snippet.displayPath,
    });
  }

  return withDatabase(session.target, ({ db }) =>
    withRepoLock(db, config.repo, config.timeouts.runLockWaitMs, async () => {
      const store = snippetStore(db, config.repo);
      const ledger = await store.ledger();
      const row = ledger.find((r) => r.id === id);
      if (!row || row.status !== 'applied') {
        const state = row ? row.status : 'pending';
        throw new SafetyRefusal(`${id}: is ${state}, not applied, so there is nothing to revert`, 'revert-blocked', { subject: id });
      }
      if (row.checksum !== snippet.checksum) {
        throw new SafetyRefusal(
          `${snippet.displayPath}: changed since it was applied; its down() is not the reviewed one, restore the applied version first`,
          'changed-applied',
          { subject: snippet.displayPath },
        );
      }
      const applied = new Set(ledger.filter((r) => r.status === 'applied').map((r) => r.id));
      const dependents = snippets.filter((s) => applied.has(s.id) && (s.definition.dependsOn ?? []).includes(id));
      if (dependents.length) {
        throw new SafetyRefusal(
          `${id}: applied snippets depend on it (${dependents.map((s) => s.id).join(', ')}); revert those first`,
          'revert-blocked',
          { subject: id },
        );
      }

      const options = { repo: config.repo, audit: session.audit, timeouts: config.timeouts, onLog, requireRepoLock: true };
      try {
        const result = await revertSnippet(db, snippet, reason, options);
        return { repo: config.repo, id, reason, ...result };
      } catch (error) {
        if (error instanceof SnippetFailed) {
          await store.appendEvents([
            { repo: config.repo, snippetId: id, kind: 'revert-failed', checksum: snippet.checksum, ...session.audit, reason, detail: { error: error.message } },
          ]);
        }
        throw error;
      }
    }),
  );
}
