/**
 * The one table of the moves a snippet's record may make. The store checks every write
 * against it (see snippet-store.ts, walk-ranges.ts), as maintenance_tasks checks every status change of a run,
 * so no command can record a move the product does not have, such as reverting a snippet
 * that was only baselined.
 */

/** A ledger row's status. */
export type LedgerStatus = 'applied' | 'baselined' | 'reverted' | 'squashed';

/** Where a snippet stands in one database's ledger: `pending` has no row yet. */
export type LedgerState = LedgerStatus | 'pending';

/** From each state, the statuses a write may give the row; an empty list is final. */
export const LEDGER_TRANSITIONS: { readonly [From in LedgerState]: readonly LedgerStatus[] } = {
  pending: ['applied', 'baselined', 'squashed'],
  applied: ['reverted'],
  baselined: [],
  squashed: [],
  reverted: [],
};

/**
 * A batched snippet's progress between pending and applied, as its checkpoint and key
 * ranges show it: `none` has no checkpoint, `open` has a range with keys left, `idle` has
 * a checkpoint and no open range (no walk begun yet, or every walk done).
 */
export type WalkState = 'none' | 'idle' | 'open';

/** The moves of a batched snippet's progress; leaving it (to `none`) writes its ledger row or discards a dry run's. */
export const WALK_TRANSITIONS: { readonly [From in WalkState]: readonly WalkState[] } = {
  // A run starts, or resumes, under its leader.
  none: ['idle'],
  // A walk is split into ranges; the snippet completes; another leader takes over.
  idle: ['open', 'none', 'idle'],
  // A batch moves a range's cursor, the last one closes the walk. Never straight to none:
  // that would drop committed batches' counts from the ledger row.
  open: ['open', 'idle'],
};

/**
 * A key range of a batched walk: `open` while keys are left past its cursor, `done` once
 * its last batch committed. A range never reopens: its counts are in the ledger row.
 */
export type RangeState = 'open' | 'done';

/** The moves of one key range: a batch moves an open range's cursor, the last one closes it. */
export const RANGE_TRANSITIONS: { readonly [From in RangeState]: readonly RangeState[] } = {
  open: ['open', 'done'],
  done: [],
};

export function ledgerMoveAllowed(from: LedgerState, to: LedgerStatus): boolean {
  return LEDGER_TRANSITIONS[from].includes(to);
}

export function walkMoveAllowed(from: WalkState, to: WalkState): boolean {
  return WALK_TRANSITIONS[from].includes(to);
}

export function rangeMoveAllowed(from: RangeState, to: RangeState): boolean {
  return RANGE_TRANSITIONS[from].includes(to);
}

/** The states a row must be in for a write to give it `to`: what the write's SQL guards on. */
export function ledgerStatesBefore(to: LedgerStatus): LedgerState[] {
  return (Object.keys(LEDGER_TRANSITIONS) as LedgerState[]).filter((from) => ledgerMoveAllowed(from, to));
}

/** The progress states a write may leave for `to`: what the write's SQL guards on. */
export function walkStatesBefore(to: WalkState): WalkState[] {
  return (Object.keys(WALK_TRANSITIONS) as WalkState[]).filter((from) => walkMoveAllowed(from, to));
}

/** The states a range may leave for `to`: what a batch's write guards on. */
export function rangeStatesBefore(to: RangeState): RangeState[] {
  return (Object.keys(RANGE_TRANSITIONS) as RangeState[]).filter((from) => rangeMoveAllowed(from, to));
}
