import type { GraphEvidence, ManifestEvidence, TestsEvidence } from './static-evidence.ts';
import type { RehearsalEvidence, SnippetRehearsal } from './rehearsal.ts';

export const GATES = ['manifest', 'graph', 'tests', 'rehearsal', 'schema', 'touches', 'undo', 'duration'] as const;
export type GateName = (typeof GATES)[number];
export const REHEARSAL_GATES: readonly GateName[] = ['rehearsal', 'schema', 'touches', 'undo', 'duration'];

export interface GateResult {
  gate: GateName;
  /** The dump or template a rehearsal gate is about. */
  base?: string;
  /**
   * passed: every snippet was checked and none failed; failed: one did; not-checked: none
   * failed but some were never exercised (they did not run), so the gate proves nothing of them.
   */
  status: 'passed' | 'failed' | 'not-checked';
  summary: string;
  details: string[];
  /** `id: why` of each snippet this gate could not check; any entry keeps it from passing. */
  notChecked: string[];
}

export interface Evidence {
  manifest?: ManifestEvidence;
  graph?: GraphEvidence;
  tests?: TestsEvidence;
  rehearsals: RehearsalEvidence[];
  durationBudgetMs: number;
}

const result = (gate: GateName, failures: string[], passSummary: string, failSummary: string, extra: Partial<GateResult> = {}): GateResult => {
  const notChecked = extra.notChecked ?? [];
  const status = failures.length ? 'failed' : notChecked.length ? 'not-checked' : 'passed';
  const unchecked = `${notChecked.length} snippet(s) not checked`;
  const summary = status === 'failed' ? failSummary : status === 'not-checked' ? `${passSummary.replace(/^every snippet/, 'every snippet checked')}; ${unchecked}` : passSummary;
  return { gate, status, summary, details: failures, ...extra, notChecked };
};

function manifestGate(e: ManifestEvidence): GateResult {
  const failures = e.error ? [e.error] : e.differences.map((d) => `${d.id}: ${d.problem.replaceAll('-', ' ')}`);
  return result('manifest', failures, 'snippets.lock matches the files', 'snippets.lock does not match the files; run `snippets manifest` and commit it');
}

function graphGate(e: GraphEvidence): GateResult {
  if (e.error) return result('graph', [e.error], '', 'the snippets do not load');
  const failures: string[] = [];
  const dependedOn = new Set(e.snippets.flatMap((s) => s.dependsOn));
  const leaves = e.snippets.filter((s) => !dependedOn.has(s.id)).map((s) => s.id);
  if (leaves.length > 1) {
    failures.push(`parallel leaves ${leaves.join(', ')}: two branches each added a snippet; make the later one depend on the other`);
  }
  const known = e.serviceMigrations ? new Set(e.serviceMigrations) : undefined;
  for (const snippet of e.snippets) {
    for (const tag of snippet.requires) {
      // Another tool's versions are known only to its databases: the rehearsal's plan checks them.
      if (e.versionSource === 'table') continue;
      if (e.versionSource === 'none') failures.push(`${snippet.id}: requires migration ${tag} but service.schemaVersion is 'none'`);
      else if (!known) failures.push(`${snippet.id}: requires migration ${tag} but the repo configures no service migrations`);
      else if (!known.has(tag)) failures.push(`${snippet.id}: requires migration ${tag}, which the service does not have`);
    }
  }
  return result('graph', failures, `${e.snippets.length} snippets in one chain, every dependency and migration known`, 'the snippet graph is broken');
}

function testsGate(e: TestsEvidence): GateResult {
  const failures = e.missing.map((id) => `${id}: has no ${id}.test.ts beside it`);
  if (!e.passed) failures.push(`the repo's tests failed:\n${e.output.trim().split('\n').slice(-15).join('\n')}`);
  return result('tests', failures, 'every snippet has a test and the tests pass', 'tests are missing or failing');
}

function formatChanges(changes: Record<string, { inserted: number; updated: number; deleted: number }>): string {
  return Object.entries(changes).map(([t, c]) => `${t} +${c.inserted} ~${c.updated} -${c.deleted}`).join(', ') || 'no rows';
}

/** Why a rehearsal gate has nothing to say of this snippet, or undefined when it ran. */
function whyNotExercised(s: SnippetRehearsal): string | undefined {
  if (s.outcome === 'applied') return undefined;
  if (s.outcome === 'not-run') return `${s.id}: ${s.message ?? 'not run'}`;
  return `${s.id}: ${s.outcome === 'refused' ? 'refused' : `failed in ${s.phase ?? 'its run'}`}, ${s.batched ? 'finished batches kept' : 'rolled back'}`;
}

function rehearsalGates(r: RehearsalEvidence, budgetMs: number): GateResult[] {
  const gates: GateResult[] = [];
  const ran = r.snippets.filter((s) => s.outcome === 'applied');
  // A rehearsal refused before any snippet ran proves nothing of the snippets, whichever they are.
  const refusedBeforeAny = r.refused && !r.snippets.length ? [`the rehearsal was refused before any snippet ran: ${r.refused.message}`] : [];
  const unexercised = (exercised: (s: SnippetRehearsal) => boolean) => [
    ...refusedBeforeAny,
    ...r.snippets.filter((s) => !exercised(s)).map((s) => whyNotExercised(s) ?? `${s.id}: not exercised`),
  ];
  const extra = (notChecked: string[]): Partial<GateResult> => ({ base: r.base, notChecked });

  const runFailures: string[] = [];
  if (r.refused) runFailures.push(r.refused.message);
  for (const s of r.snippets) {
    if (s.outcome === 'failed' || s.outcome === 'refused') runFailures.push(s.message ?? `${s.id} ${s.outcome}`);
    else if (s.outcome === 'not-run') runFailures.push(`${s.id}: ${s.message ?? 'not run'}`);
  }
  gates.push(result('rehearsal', runFailures, `${ran.length} pending snippet(s) ran and verified`, `${ran.length} of ${r.snippets.length} pending snippet(s) ran and verified`, { base: r.base }));

  // The runner refuses, and rolls back, a snippet that changes the schema: that refusal is this gate's finding.
  const schemaRefused = (s: SnippetRehearsal) => s.outcome === 'refused' && s.phase === 'schema-changed';
  const schemaFailures = [
    ...r.snippets.filter(schemaRefused).map((s) => s.message ?? `${s.id}: changed the schema`),
    ...r.schema.added.map((e) => `added ${e}`),
    ...r.schema.removed.map((e) => `removed ${e}`),
  ];
  gates.push(
    result('schema', schemaFailures, `no schema change outside the snippets schema (${ran.length} snippet(s) ran)`, 'the rehearsal changed the schema', extra(unexercised((s) => s.outcome === 'applied' || schemaRefused(s)))),
  );

  // The touches check runs after up and before verify: a failed verify or commit was checked.
  const touchesChecked = (s: SnippetRehearsal) => s.outcome === 'applied' || (s.outcome === 'failed' && ['touches', 'verify', 'commit'].includes(s.phase ?? ''));
  const touchFailures = r.snippets
    .filter((s) => s.phase === 'touches')
    .map((s) =>
      // Without changes the snippet never ran: its touches named a table that does not exist.
      Object.keys(s.rowsChanged).length || !s.message
        ? `${s.id}: touches ${s.touches.join(', ') || 'nothing'} but changed ${formatChanges(s.rowsChanged)}`
        : s.message,
    );
  gates.push(result('touches', touchFailures, 'every snippet changed only the tables it declares', 'a snippet changed a table it did not declare', extra(unexercised(touchesChecked))));

  const undoFailures: string[] = [];
  const undoUnchecked: string[] = [...refusedBeforeAny];
  const irreversible: string[] = [];
  for (const s of r.snippets) {
    if (s.undo.reversible === false) irreversible.push(s.id);
    else if (s.undo.reversible === true && !s.undo.restored) undoFailures.push(`${s.id}: down did not restore ${s.undo.differingTables.join(', ')}`);
    else if (s.undo.reversible === 'unknown') undoUnchecked.push(`${s.id}: its up then down could not be run: ${s.undo.reason}`);
  }
  const undo = result('undo', undoFailures, 'every down restores what its up changed', 'a down does not undo its up', extra(undoUnchecked));
  if (irreversible.length) undo.details.push(`irreversible (no down): ${irreversible.join(', ')}`);
  gates.push(undo);

  const slow = ran
    .filter((s) => (s.durationMs ?? 0) > budgetMs)
    .map((s) => `${s.id}: took ${Math.round(s.durationMs!)} ms, over the ${budgetMs} ms budget; split it with transaction: 'batched'`);
  gates.push(result('duration', slow, `every snippet within ${budgetMs} ms`, 'a snippet is over the duration budget', extra(unexercised((s) => s.outcome === 'applied'))));
  return gates;
}

/** Pure: turns the collected evidence into one result per gate (and per rehearsal base). */
export function evaluate(evidence: Evidence, only: readonly GateName[] = GATES): GateResult[] {
  const results: GateResult[] = [];
  if (evidence.manifest) results.push(manifestGate(evidence.manifest));
  if (evidence.graph) results.push(graphGate(evidence.graph));
  if (evidence.tests) results.push(testsGate(evidence.tests));
  for (const rehearsal of evidence.rehearsals) results.push(...rehearsalGates(rehearsal, evidence.durationBudgetMs));
  return results.filter((r) => only.includes(r.gate));
}
