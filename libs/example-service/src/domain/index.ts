/**
 * The service's domain functions: each takes the database handle it works with (a drizzle
 * database or a transaction, e.g. a snippet's `db`) and typed params, checks them, and
 * returns what it changed.
 */
export { activateFeatureForPartners, type ActivateFeatureParams, type ActivateFeatureResult } from './activate-feature-for-partners.ts';
export { DomainError } from './errors.ts';
export type { ServiceDb } from './handle.ts';
export { mergeDuplicateDeals, type MergeDuplicateDealsParams, type MergeDuplicateDealsResult } from './merge-duplicate-deals.ts';
export { undoReconciliationMatch, type UndoReconciliationMatchParams, type UndoReconciliationMatchResult } from './undo-reconciliation-match.ts';
