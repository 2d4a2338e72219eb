import { inArray } from 'drizzle-orm';
import { deals, trades } from '../schema.ts';
import { DomainError } from './errors.ts';
import type { ServiceDb } from './handle.ts';
import { firstMissing, requireId, requireIds } from './validate.ts';

export interface MergeDuplicateDealsParams {
  /** The deal that stays. */
  keepDealId: number;
  /** Deals that record the same deal again; their trades move to the kept deal, then they are deleted. */
  duplicateDealIds: number[];
}

export interface MergeDuplicateDealsResult {
  keepDealId: number;
  tradesMoved: number;
  dealsDeleted: number;
}

const OPERATION = 'mergeDuplicateDeals';

/**
 * Folds duplicate deals into one: moves their trades to `keepDealId` and deletes them.
 * Only deals of the same partner and currency merge; the kept deal's amount and reference
 * stay as they are. All or nothing: it runs in a (nested) transaction of `db`.
 */
export async function mergeDuplicateDeals(db: ServiceDb, params: MergeDuplicateDealsParams): Promise<MergeDuplicateDealsResult> {
  const keepDealId = requireId(OPERATION, 'keepDealId', params.keepDealId);
  const duplicateDealIds = requireIds(OPERATION, 'duplicateDealIds', params.duplicateDealIds);
  if (duplicateDealIds.includes(keepDealId)) {
    throw new DomainError(OPERATION, `deal ${keepDealId} is both kept and a duplicate; leave it out of duplicateDealIds`);
  }

  return db.transaction(async (tx) => {
    // Locked, so no trade is booked on a duplicate between the check and the delete.
    const found = await tx
      .select({ id: deals.id, partnerId: deals.partnerId, currency: deals.currency })
      .from(deals)
      .where(inArray(deals.id, [keepDealId, ...duplicateDealIds]))
      .for('update');
    const missing = firstMissing([keepDealId, ...duplicateDealIds], found.map((d) => d.id));
    if (missing !== undefined) throw new DomainError(OPERATION, `deal ${missing} does not exist`);

    const kept = found.find((d) => d.id === keepDealId)!;
    const other = found.find((d) => d.partnerId !== kept.partnerId || d.currency !== kept.currency);
    if (other) {
      throw new DomainError(
        OPERATION,
        `deal ${other.id} (partner ${other.partnerId}, ${other.currency}) is not a duplicate of deal ${keepDealId} (partner ${kept.partnerId}, ${kept.currency}); only deals of one partner and currency merge`,
      );
    }

    const moved = await tx
      .update(trades)
      .set({ dealId: keepDealId })
      .where(inArray(trades.dealId, duplicateDealIds))
      .returning({ id: trades.id });
    const deleted = await tx.delete(deals).where(inArray(deals.id, duplicateDealIds)).returning({ id: deals.id });
    return { keepDealId, tradesMoved: moved.length, dealsDeleted: deleted.length };
  });
}

