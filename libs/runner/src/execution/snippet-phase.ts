import { connectionGuardEnabled, newGuardRecord, inSnippetScope, installConnectionGuard, currentSnippetScope, type GuardPolicy, type GuardRecord, type OutboundConnection, type Phase } from '../database/connection-guard.ts';
import { describeCause, RunInterrupted, SafetyRefusal, SnippetFailed } from '../errors.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';

// Before any snippet module loads, so a service pool that connects on import is seen too.
installConnectionGuard();
if (!connectionGuardEnabled()) {
  console.error("snippets: the connection guard is off (SNIPPETS_CONNECTION_GUARD=off): snippet code's own connections are neither stopped nor recorded");
}

/** Where snippet code runs, beside production: it decides what the connection guard lets out. */
export interface GuardSettings {
  /** A snippet's test or a gates rehearsal; unset, a run is production unless it is a dry run. */
  setting?: 'test' | 'rehearsal';
  /** `outbound.allow` of snippets.config.ts. */
  outboundAllow?: readonly string[];
}

/** The guard's record for one snippet, shared by its phases and batches. */
export function guardRecordFor(settings: GuardSettings, dryRun: boolean): GuardRecord {
  const mode: GuardPolicy['mode'] = settings.setting ?? (dryRun ? 'dry run' : 'production');
  return newGuardRecord({ mode, allow: settings.outboundAllow ?? [] });
}

/** The outbound connections a snippet made, to spread into its result or event detail: `{}` when none. */
export function outboundOf(record: GuardRecord): { outbound?: OutboundConnection[] } {
  return record.connections.size ? { outbound: [...record.connections.values()] } : {};
}

/** The failure of a snippet whose code tried to get past the guard, if it did. */
export function escapeFailure(snippet: LoadedSnippet, record: GuardRecord, outcome = 'the transaction was rolled back'): SnippetFailed | undefined {
  const escape = record.escape;
  if (!escape) return undefined;
  const { mode } = record.policy;
  // Stopped at its first write in the snippet: a pool that connected earlier sent its startup then, a TLS socket its handshake.
  const [what, fix] =
    escape.kind === 'database'
      ? [
          `opened a database connection to ${escape.to} that is not the snippet's db; it was stopped before sending its query`,
          "pass the snippet's db to the code that queried it, or wrap the service's module-level handle with snippetAware() from @snippets/service-handle (a database the snippet must read goes in outbound.allow of snippets.config.ts)",
        ]
      : [`tried to reach ${escape.to} in a ${mode}; it was stopped before sending its request`, `add the host to outbound.allow in snippets.config.ts if calling it from a ${mode} is safe, or keep the call out of the snippet`];
  return new SnippetFailed(`${snippet.id}: ${escape.phase} ${what}; ${fix}; ${outcome}`, snippet.id, escape.phase, {
    escape,
  });
}

/**
 * Runs one phase of a snippet's code inside the guard's scope. An escape fails the phase
 * even when the code caught the driver's error and went on.
 */
export async function runPhase<T>(snippet: LoadedSnippet, phase: Phase, guard: GuardRecord, db: unknown, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await inSnippetScope({ snippetId: snippet.id, phase, db, record: guard }, work);
  } catch (error) {
    if (error instanceof SnippetFailed && error.escape) throw error; // a batch's, which says what was kept
    const escaped = escapeFailure(snippet, guard);
    if (escaped && !(error instanceof RunInterrupted)) throw escaped;
    if (error instanceof SafetyRefusal || error instanceof SnippetFailed || error instanceof RunInterrupted) throw error;
    throw new SnippetFailed(`${snippet.id}: ${phase} failed: ${describeCause(error)}; the transaction was rolled back`, snippet.id, phase, { cause: error });
  }
  const escaped = escapeFailure(snippet, guard);
  if (escaped) throw escaped;
  return result;
}

/**
 * Runs one batch of a batched snippet's `up` with the batch's transaction as the snippet's
 * db, and fails the batch (so it rolls back) if its code got past the guard.
 */
export async function runBatchGuarded<T>(snippet: LoadedSnippet, tx: unknown, work: () => Promise<T>): Promise<T> {
  const scope = currentSnippetScope();
  if (!scope) return work();
  const result = await inSnippetScope({ ...scope, db: tx }, work);
  const escaped = escapeFailure(snippet, scope.record, 'this batch was rolled back, the finished ones are kept; run again to resume once fixed');
  if (escaped) throw escaped;
  return result;
}
