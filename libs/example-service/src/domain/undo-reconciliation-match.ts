import { eq } from 'drizzle-orm';
import { reconciliationMatches } from '../schema.ts';
import { DomainError } from './errors.ts';
import type { ServiceDb } from './handle.ts';
import { requireId } from './validate.ts';

export interface UndoReconciliationMatchParams {
  matchId: number;
}

export interface UndoReconciliationMatchResult {
  matchId: number;
  /** The bank account entry that is unmatched again. */
  entryId: number;
  /** The trade it was matched to, if it still existed. */
  tradeId: number | null;
  matchesDeleted: number;
}

const OPERATION = 'undoReconciliationMatch';

/** Removes a wrong match between a bank account entry and a trade, so the entry is open for matching again. */
export async function undoReconciliationMatch(db: ServiceDb, params: UndoReconciliationMatchParams): Promise<UndoReconciliationMatchResult> {
  const matchId = requireId(OPERATION, 'matchId', params.matchId);
  const deleted = await db
    .delete(reconciliationMatches)
    .where(eq(reconciliationMatches.id, matchId))
    .returning({ entryId: reconciliationMatches.entryId, tradeId: reconciliationMatches.tradeId });
  const [match] = deleted;
  if (!match) throw new DomainError(OPERATION, `reconciliation match ${matchId} does not exist`);
  return { matchId, entryId: match.entryId, tradeId: match.tradeId, matchesDeleted: deleted.length };
}
