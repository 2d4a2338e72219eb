import TinyQueue from 'tinyqueue';
import type { SnippetFile } from '../snippets/discovery.ts';
import type { RefusalCheck } from '../errors.ts';
import type { LedgerRow } from '../store/ledger-schema.ts';
import type { CheckpointProgress, PlanLedgerRow } from '../store/snippet-store.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import { compareManifest, MANIFEST_FILE, type Manifest } from '../snippets/manifest.ts';

export type SnippetState = 'applied' | 'baselined' | 'reverted' | 'squashed' | 'pending' | 'changed' | 'missing';

export interface StatusEntry {
  id: string;
  number: number;
  state: SnippetState;
  /** sha256 of the file on disk; null when the file is missing. */
  checksum: string | null;
  /** What the ledger knows about it, when it has a row. */
  row: LedgerRow | null;
  /** A batched snippet's committed progress, while it runs or after it was interrupted. */
  progress?: CheckpointProgress;
}

/** A snippet a squash replaced, with the checksum production applied. */
type Replaced = { squash: string; checksum: string };

function replacedIds(squashes: Pick<LoadedSnippet, 'id' | 'replaces'>[]): Map<string, Replaced> {
  const replaced = new Map<string, Replaced>();
  for (const squash of squashes) {
    for (const { id, checksum } of squash.replaces ?? []) replaced.set(id, { squash: squash.id, checksum });
  }
  return replaced;
}

const ran = (row: PlanLedgerRow | undefined) => row?.status === 'applied' || row?.status === 'baselined';

/** How many of a squash's snippets this ledger shows as run: all, some or none. */
function squashCoverage(squash: Pick<LoadedSnippet, 'replaces'>, rowById: Map<string, PlanLedgerRow>): 'all' | 'some' | 'none' {
  const done = squash.replaces!.filter((r) => ran(rowById.get(r.id))).length;
  return done === squash.replaces!.length ? 'all' : done === 0 ? 'none' : 'some';
}

/**
 * applied / pending / changed / missing for every snippet in the tree or the ledger. A
 * squash counts as applied where all it replaces ran; the archived snippets show as squashed.
 */
export function computeStatus(
  files: SnippetFile[],
  rows: LedgerRow[],
  squashes: LoadedSnippet[] = [],
  checkpoints: Map<string, CheckpointProgress> = new Map(),
): StatusEntry[] {
  const rowById = new Map(rows.map((r) => [r.id, r]));
  const squashById = new Map(squashes.map((s) => [s.id, s]));
  const replaced = replacedIds(squashes);
  const entries: StatusEntry[] = files.map((file) => {
    const row = rowById.get(file.id) ?? null;
    let state: SnippetState = row ? row.status : 'pending';
    if (row && row.status !== 'reverted' && row.status !== 'squashed' && row.checksum !== file.checksum) state = 'changed';
    const squash = squashById.get(file.id);
    if (!row && squash && squashCoverage(squash, rowById) === 'all') state = 'applied';
    const progress = checkpoints.get(file.id);
    return { id: file.id, number: file.number, state, checksum: file.checksum, row, ...(progress ? { progress } : {}) };
  });
  const present = new Set(files.map((f) => f.id));
  for (const row of rows) {
    if (present.has(row.id)) continue;
    const by = replaced.get(row.id);
    const state: SnippetState = !by ? 'missing' : by.checksum === row.checksum ? 'squashed' : 'changed';
    entries.push({ id: row.id, number: row.number, state, checksum: null, row });
  }
  return entries.sort((a, b) => a.number - b.number);
}

export interface Refusal {
  check: RefusalCheck;
  subject: string;
  message: string;
}

/** The service's migrations as the plan needs them: tag -> hash, and the hashes applied in the database. */
export interface ServiceMigrations {
  hashByTag: Map<string, string>;
  appliedHashes: Set<string>;
}

export interface PlanInput {
  files: SnippetFile[];
  snippets: LoadedSnippet[];
  ledger: PlanLedgerRow[];
  manifest: Manifest;
  /** The exact set CI computed from the merge (`--expect`). */
  expect?: string[];
  serviceMigrations?: ServiceMigrations;
}

export interface Plan {
  /** Pending snippets in the order they would run: dependencies first, then by number. */
  pending: LoadedSnippet[];
  /** Safety checks that fail; a run with any refusal does nothing. */
  refusals: Refusal[];
}

/**
 * Kahn's topological sort with the lowest-numbered ready snippet first: dependencies
 * first, then by number. A heap keeps it O(n log n); rescanning every snippet after each
 * pick took 136 ms on 5,000 pending.
 */
function orderPending(pending: LoadedSnippet[]): LoadedSnippet[] {
  const pendingIds = new Set(pending.map((s) => s.id));
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, LoadedSnippet[]>();
  for (const snippet of pending) {
    // An applied dependency is met already; a duplicate is one dependency.
    const dependencies = new Set((snippet.definition.dependsOn ?? []).filter((d) => pendingIds.has(d)));
    waitingOn.set(snippet.id, dependencies.size);
    for (const dependency of dependencies) {
      if (!dependents.has(dependency)) dependents.set(dependency, []);
      dependents.get(dependency)!.push(snippet);
    }
  }
  const ready = new TinyQueue(
    pending.filter((s) => waitingOn.get(s.id) === 0),
    (a, b) => a.number - b.number,
  );
  const ordered: LoadedSnippet[] = [];
  // Dependencies are validated acyclic at load, so every snippet becomes ready.
  for (let next = ready.pop(); next; next = ready.pop()) {
    ordered.push(next);
    for (const dependent of dependents.get(next.id) ?? []) {
      const left = waitingOn.get(dependent.id)! - 1;
      waitingOn.set(dependent.id, left);
      if (left === 0) ready.push(dependent);
    }
  }
  return ordered;
}

function manifestRefusals(input: PlanInput, byId: Map<string, SnippetFile>): Refusal[] {
  return compareManifest(input.manifest, input.files).map(({ id, problem }) => {
    const displayPath = byId.get(id)?.displayPath ?? `${id}.ts`;
    const what = {
      'checksum-differs': `its sha256 differs from ${MANIFEST_FILE}`,
      'not-in-manifest': `it is not listed in ${MANIFEST_FILE}`,
      'file-missing': `${MANIFEST_FILE} lists it but the file is gone`,
    }[problem];
    return {
      check: 'manifest-mismatch' as const,
      subject: displayPath,
      message: `${displayPath}: ${what}, so this is not the reviewed tree; run \`snippets manifest\`, review and commit the change`,
    };
  });
}

function ledgerRefusals(input: PlanInput, byId: Map<string, SnippetFile>): Refusal[] {
  const refusals: Refusal[] = [];
  const replaced = replacedIds(input.snippets);
  for (const row of input.ledger) {
    if (row.status === 'reverted' || row.status === 'squashed') continue;
    const file = byId.get(row.id);
    const when = row.finishedAt ? ` on ${row.finishedAt.toISOString()}` : '';
    const by = replaced.get(row.id);
    if (!file && by) {
      if (by.checksum !== row.checksum) {
        refusals.push({
          check: 'changed-applied',
          subject: row.id,
          message: `${row.id}: ${by.squash} records sha256 ${by.checksum.slice(0, 12)} for it but this database applied ${row.checksum.slice(0, 12)}; this squash was made from another ledger, regenerate it`,
        });
      }
    } else if (!file) {
      refusals.push({
        check: 'missing-applied',
        subject: row.id,
        message: `${row.id}: ${row.status}${when} but its file is gone; restore it from git`,
      });
    } else if (file.checksum !== row.checksum) {
      refusals.push({
        check: 'changed-applied',
        subject: file.displayPath,
        message: `${file.displayPath}: changed since it was ${row.status}${when} (ledger sha256 ${row.checksum.slice(0, 12)}, file ${file.checksum.slice(0, 12)}); restore the applied version and put further changes in a new snippet`,
      });
    }
  }
  return refusals;
}

function pendingRefusals(input: PlanInput, pending: LoadedSnippet[]): Refusal[] {
  const refusals: Refusal[] = [];
  const rowById = new Map(input.ledger.map((r) => [r.id, r]));

  if (input.ledger.length === 0 && input.files.length > 1 && input.expect === undefined) {
    refusals.push({
      check: 'history-guard',
      subject: 'ledger',
      message: `the ledger is empty but the repo has ${input.files.length} snippets; if this database already has their effects run \`snippets baseline --through ID\`, or pass --expect with the ids to apply`,
    });
  }

  if (input.expect !== undefined) {
    const expected = new Set(input.expect);
    const unexpected = pending.filter((s) => !expected.has(s.id)).map((s) => s.id);
    const unrunnable = input.expect.filter((id) => rowById.get(id)?.status === 'reverted');
    if (unexpected.length || unrunnable.length) {
      const parts = [
        unexpected.length ? `pending but not expected: ${unexpected.join(', ')}` : '',
        unrunnable.length ? `expected but reverted: ${unrunnable.join(', ')}` : '',
      ].filter(Boolean);
      refusals.push({
        check: 'unexpected-pending',
        subject: '--expect',
        message: `--expect does not match the pending set (${parts.join('; ')}); check which snippets this merge adds`,
      });
    }
  }

  for (const snippet of pending) {
    if (snippet.replaces) {
      if (squashCoverage(snippet, rowById) === 'some') {
        const missing = snippet.replaces.filter((r) => !ran(rowById.get(r.id))).map((r) => r.id);
        refusals.push({
          check: 'squash-incomplete',
          subject: snippet.displayPath,
          message: `${snippet.displayPath}: replaces snippets this database has not all run (${missing.join(', ')}); restore them from snippets/archive/ and run them before the squash`,
        });
      }
    }
    for (const dependency of snippet.definition.dependsOn ?? []) {
      if (rowById.get(dependency)?.status === 'reverted') {
        refusals.push({
          check: 'revert-blocked',
          subject: snippet.displayPath,
          message: `${snippet.displayPath}: depends on ${dependency}, which was reverted; drop the dependency or write a new snippet`,
        });
      }
    }
    const service = input.serviceMigrations;
    for (const tag of snippet.definition.requires?.migrations ?? []) {
      const hash = service?.hashByTag.get(tag);
      if (hash && !service!.appliedHashes.has(hash)) {
        refusals.push({
          check: 'requires-migrations',
          subject: snippet.displayPath,
          message: `${snippet.displayPath}: requires service migration ${tag}, which this database has not applied; deploy the service migration first`,
        });
      }
    }
  }
  return refusals;
}

/** Pure: what `run` would do with this tree, ledger and manifest. */
export function plan(input: PlanInput): Plan {
  const byId = new Map(input.files.map((f) => [f.id, f]));
  const rowById = new Map(input.ledger.map((r) => [r.id, r]));
  // A squash is done where it was recorded or where everything it replaces ran.
  const done = (s: LoadedSnippet) => rowById.has(s.id) || (s.replaces !== undefined && squashCoverage(s, rowById) === 'all');
  const pending = orderPending(input.snippets.filter((s) => !done(s)));
  return {
    pending,
    refusals: [...ledgerRefusals(input, byId), ...manifestRefusals(input, byId), ...pendingRefusals(input, pending)],
  };
}
