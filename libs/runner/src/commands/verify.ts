import { InputError } from '../errors.ts';
import { verifySnippet, type LogSink, type VerifyResult } from '../execution/executor.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { loadSnippets } from '../snippets/load-snippets.ts';
import { findFile, openRepo, withDatabase, type SessionInput } from '../repo.ts';

export interface VerifyReport {
  repo: string;
  results: { id: string; result: VerifyResult | null }[];
}

/** Re-runs the post-checks of applied snippets (or one) in read-only transactions, and audits the outcome. */
export async function verify(input: SessionInput, id: string | undefined, onLog: LogSink): Promise<VerifyReport> {
  const session = await openRepo(input);
  const { config } = session;
  if (id !== undefined) findFile(session.files, id, 'verify');
  const snippets = await loadSnippets(session.files, session.config.repoRoot);

  return withDatabase(session.target, async ({ db }) => {
    const store = snippetStore(db, config.repo);
    const ledger = await store.ledger();
    const applied = new Set(ledger.filter((r) => r.status === 'applied').map((r) => r.id));
    if (id !== undefined && !applied.has(id)) {
      throw new InputError(`verify '${id}': the snippet is not applied on this database; verify checks applied snippets only`, {
        subject: id,
      });
    }
    const targets = snippets.filter((s) => (id === undefined ? applied.has(s.id) : s.id === id));
    const options = { repo: config.repo, audit: session.audit, timeouts: config.timeouts, onLog, requireRepoLock: false };
    const results: VerifyReport['results'] = [];
    for (const snippet of targets) {
      const result = await verifySnippet(db, snippet, options);
      results.push({ id: snippet.id, result });
      if (result && (await store.exists())) {
        await store.appendEvents([{
          repo: config.repo,
          snippetId: snippet.id,
          kind: result.ok ? 'verified' : 'verify-failed',
          checksum: snippet.checksum,
          ...session.audit,
          detail: { ...result },
        }]);
      }
    }
    return { repo: config.repo, results };
  });
}
