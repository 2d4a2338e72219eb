import type { GraphEvidence, ManifestEvidence, TestsEvidence } from './static-evidence.ts';
import type { RehearsalEvidence } from './rehearsal.ts';

export const GATES = ['manifest', 'graph', 'tests', 'rehearsal', 'schema', 'touches', 'undo', 'duration'] as const;
export type GateName = (typeof GATES)[number];
export const REHEARSAL_GATES: readonly GateName[] = ['rehearsal', 'schema', 'touches', 'undo', 'duration'];

export interface GateResult {
  gate: GateName;
  /** The dump or template a rehearsal gate is about. */
  base?: string;
  status: 'passed' | 'failed';
  summary: string;
  details: string[];
}

export interface Evidence {
  manifest?: ManifestEvidence;
  graph?: GraphEvidence;
  tests?: TestsEvidence;
  rehearsals: RehearsalEvidence[];
  durationBudgetMs: number;
}

const result = (gate: GateName, failures: string[], passSummary: string, failSummary: string, extra: Partial<GateResult> = {}): GateResult => ({
  gate,
  status: failures.length ? 'failed' : 'passed',
  summary: failures.length ? failSummary : passSummary,
  details: failures,
  ...extra,
});

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
      if (!known) failures.push(`${snippet.id}: requires migration ${tag} but the repo configures no service migrations`);
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

function rehearsalGates(r: RehearsalEvidence, budgetMs: number): GateResult[] {
  const base = { base: r.base };
  const gates: GateResult[] = [];
  const runFailures = r.refused && r.refused.check !== 'schema-changed' ? [r.refused.message] : [];
  for (const s of r.snippets) {
    if (s.outcome === 'failed' && s.phase !== 'touches') runFailures.push(s.message ?? `${s.id} failed`);
  }
  gates.push(result('rehearsal', runFailures, `${r.snippets.length} pending snippet(s) ran and verified`, 'the rehearsal failed', base));

  const schemaFailures = [...r.schema.added.map((e) => `added ${e}`), ...r.schema.removed.map((e) => `removed ${e}`)];
  if (r.refused?.check === 'schema-changed') schemaFailures.unshift(r.refused.message);
  gates.push(result('schema', schemaFailures, 'no schema change outside the snippets schema', 'the rehearsal changed the schema', base));

  const touchFailures = r.snippets
    .filter((s) => s.phase === 'touches')
    .map((s) =>
      // Without changes the snippet never ran: its touches named a table that does not exist.
      Object.keys(s.rowsChanged).length || !s.message
        ? `${s.id}: touches ${s.touches.join(', ') || 'nothing'} but changed ${formatChanges(s.rowsChanged)}`
        : s.message,
    );
  gates.push(result('touches', touchFailures, 'every snippet changed only the tables it declares', 'a snippet changed a table it did not declare', base));

  const undoFailures: string[] = [];
  const irreversible: string[] = [];
  for (const s of r.snippets) {
    if (s.undo.reversible === false) irreversible.push(s.id);
    else if (s.undo.reversible === true && !s.undo.restored) undoFailures.push(`${s.id}: down did not restore ${s.undo.differingTables.join(', ')}`);
    else if (s.undo.reversible === 'unknown') undoFailures.push(`${s.id}: its up then down could not be checked: ${s.undo.reason}`);
  }
  const undo = result('undo', undoFailures, 'every down restores what its up changed', 'a down does not undo its up', base);
  if (irreversible.length) undo.details.push(`irreversible (no down): ${irreversible.join(', ')}`);
  gates.push(undo);

  const slow = r.snippets
    .filter((s) => (s.durationMs ?? 0) > budgetMs)
    .map((s) => `${s.id}: took ${Math.round(s.durationMs!)} ms, over the ${budgetMs} ms budget; split it with transaction: 'batched'`);
  gates.push(result('duration', slow, `every snippet within ${budgetMs} ms`, 'a snippet is over the duration budget', base));
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
