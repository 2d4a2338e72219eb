import { asc, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  activateFeatureForPartners,
  DomainError,
  mergeDuplicateDeals,
  undoReconciliationMatch,
} from '../src/domain/index.ts';
import { migrate } from '../src/migrations.ts';
import { bankAccountEntries, deals, partnerFeatures, partners, reconciliationMatches, trades } from '../src/schema.ts';
import { DRIVERS, type TestDb } from './support/databases.ts';

/** Two partners, three deals of the first in EUR (two of them duplicates) and one in USD, with trades. */
async function arrange(db: TestDb) {
  await migrate(db);
  const [acme, other] = await db
    .insert(partners)
    .values([
      { name: 'Acme', country: 'DE' },
      { name: 'Other', country: 'FR' },
    ])
    .returning();
  const [kept, dupA, dupB, usd, foreign] = await db
    .insert(deals)
    .values([
      { partnerId: acme!.id, reference: 'D-1', currency: 'EUR', amount: '100.00' },
      { partnerId: acme!.id, reference: 'D-1-again', currency: 'EUR', amount: '100.00' },
      { partnerId: acme!.id, reference: 'D-1-third', currency: 'EUR', amount: '100.00' },
      { partnerId: acme!.id, reference: 'D-2', currency: 'USD', amount: '100.00' },
      { partnerId: other!.id, reference: 'D-3', currency: 'EUR', amount: '100.00' },
    ])
    .returning();
  const trade = (dealId: number) => ({ dealId, quantity: '1', price: '1' });
  await db.insert(trades).values([trade(kept!.id), trade(dupA!.id), trade(dupA!.id), trade(dupB!.id), trade(usd!.id)]);
  return { acme: acme!, other: other!, kept: kept!, dupA: dupA!, dupB: dupB!, usd: usd!, foreign: foreign! };
}

const dealIds = async (db: TestDb) => (await db.select({ id: deals.id }).from(deals).orderBy(asc(deals.id))).map((d) => d.id);
const tradesPerDeal = async (db: TestDb) =>
  (await db.select({ dealId: trades.dealId }).from(trades).orderBy(asc(trades.id))).map((t) => t.dealId);

describe.each(DRIVERS)('the service domain functions on %s', (_driver, withDb) => {
  describe('mergeDuplicateDeals', () => {
    it('moves the duplicates\' trades to the kept deal and deletes the duplicates', async () => {
      await withDb(async (db) => {
        const { kept, dupA, dupB, usd, foreign } = await arrange(db);
        const result = await mergeDuplicateDeals(db, { keepDealId: kept.id, duplicateDealIds: [dupA.id, dupB.id] });

        expect(result).toEqual({ keepDealId: kept.id, tradesMoved: 3, dealsDeleted: 2 });
        expect(await dealIds(db)).toEqual([kept.id, usd.id, foreign.id]);
        expect(await tradesPerDeal(db)).toEqual([kept.id, kept.id, kept.id, kept.id, usd.id]);
      });
    });

    it('works inside the caller\'s transaction and rolls back with it', async () => {
      await withDb(async (db) => {
        const { kept, dupA } = await arrange(db);
        const before = await tradesPerDeal(db);
        await expect(
          db.transaction(async (tx) => {
            expect(await mergeDuplicateDeals(tx, { keepDealId: kept.id, duplicateDealIds: [dupA.id] })).toMatchObject({ dealsDeleted: 1 });
            tx.rollback();
          }),
        ).rejects.toThrow('Rollback');
        expect(await tradesPerDeal(db)).toEqual(before);
        expect(await dealIds(db)).toContain(dupA.id);
      });
    });

    it.each([
      ['a deal that does not exist', () => ({ keepDealId: 1, duplicateDealIds: [2, 999] }), 'mergeDuplicateDeals: deal 999 does not exist'],
      ['a deal of another currency', () => ({ keepDealId: 1, duplicateDealIds: [4] }), 'mergeDuplicateDeals: deal 4 (partner 1, USD) is not a duplicate of deal 1 (partner 1, EUR); only deals of one partner and currency merge'],
      ['a deal of another partner', () => ({ keepDealId: 1, duplicateDealIds: [5] }), 'mergeDuplicateDeals: deal 5 (partner 2, EUR) is not a duplicate of deal 1'],
      ['the kept deal among the duplicates', () => ({ keepDealId: 1, duplicateDealIds: [1, 2] }), 'mergeDuplicateDeals: deal 1 is both kept and a duplicate'],
      ['no duplicates', () => ({ keepDealId: 1, duplicateDealIds: [] }), 'mergeDuplicateDeals: duplicateDealIds must be a non-empty array of ids, got []'],
      ['an id that is not an integer', () => ({ keepDealId: '1' as unknown as number, duplicateDealIds: [2] }), 'mergeDuplicateDeals: keepDealId must be a positive integer id, got "1"'],
      ['a duplicate listed twice', () => ({ keepDealId: 1, duplicateDealIds: [2, 2] }), 'mergeDuplicateDeals: duplicateDealIds lists 2 twice'],
    ])('refuses %s and changes nothing', async (_what, params, message) => {
      await withDb(async (db) => {
        await arrange(db);
        const before = { deals: await dealIds(db), trades: await tradesPerDeal(db) };
        const refusal = mergeDuplicateDeals(db, params());
        await expect(refusal).rejects.toThrow(message);
        await expect(refusal).rejects.toBeInstanceOf(DomainError);
        expect({ deals: await dealIds(db), trades: await tradesPerDeal(db) }).toEqual(before);
      });
    });
  });

  describe('activateFeatureForPartners', () => {
    const features = async (db: TestDb) =>
      db.select({ partnerId: partnerFeatures.partnerId, feature: partnerFeatures.feature, activatedAt: partnerFeatures.activatedAt }).from(partnerFeatures).orderBy(asc(partnerFeatures.partnerId));

    it('switches the feature on once per partner and keeps the first activation on a rerun', async () => {
      await withDb(async (db) => {
        const { acme, other } = await arrange(db);
        expect(await activateFeatureForPartners(db, { feature: 'instant_payouts', partnerIds: [acme.id] })).toEqual({
          feature: 'instant_payouts',
          activated: 1,
          alreadyActive: 0,
        });
        const [first] = await features(db);
        expect(await activateFeatureForPartners(db, { feature: 'instant_payouts', partnerIds: [acme.id, other.id] })).toEqual({
          feature: 'instant_payouts',
          activated: 1,
          alreadyActive: 1,
        });
        const rows = await features(db);
        expect(rows.map(({ partnerId, feature }) => ({ partnerId, feature }))).toEqual([
          { partnerId: acme.id, feature: 'instant_payouts' },
          { partnerId: other.id, feature: 'instant_payouts' },
        ]);
        expect(rows[0]!.activatedAt).toEqual(first!.activatedAt);
      });
    });

    it('refuses a deactivated or unknown partner, or a bad feature name, and activates nobody', async () => {
      await withDb(async (db) => {
        const { acme, other } = await arrange(db);
        await db.update(partners).set({ deactivatedAt: new Date('2026-10-01T00:00:00Z') }).where(eq(partners.id, other.id));
        await expect(activateFeatureForPartners(db, { feature: 'instant_payouts', partnerIds: [acme.id, other.id] })).rejects.toThrow(
          `activateFeatureForPartners: partner ${other.id} was deactivated on 2026-10-01T00:00:00.000Z; a deactivated partner gets no new features`,
        );
        await expect(activateFeatureForPartners(db, { feature: 'instant_payouts', partnerIds: [acme.id, 404] })).rejects.toThrow(
          'activateFeatureForPartners: partner 404 does not exist',
        );
        await expect(activateFeatureForPartners(db, { feature: 'Instant Payouts', partnerIds: [acme.id] })).rejects.toThrow(
          'activateFeatureForPartners: feature must be a lower-case name of letters, digits and _ (e.g. instant_payouts), got "Instant Payouts"',
        );
        expect(await features(db)).toEqual([]);
      });
    });
  });

  describe('undoReconciliationMatch', () => {
    it('deletes only that match and leaves the entry and the trade in place', async () => {
      await withDb(async (db) => {
        const { kept } = await arrange(db);
        const [trade] = await db.select().from(trades).where(eq(trades.dealId, kept.id));
        const [entry] = await db
          .insert(bankAccountEntries)
          .values({ accountIban: 'DE00', amount: '100.00', currency: 'EUR', bookedAt: new Date('2026-01-02T00:00:00Z') })
          .returning();
        const [wrong, right] = await db
          .insert(reconciliationMatches)
          .values([
            { entryId: entry!.id, tradeId: trade!.id },
            { entryId: entry!.id, tradeId: null },
          ])
          .returning();

        expect(await undoReconciliationMatch(db, { matchId: wrong!.id })).toEqual({ matchId: wrong!.id, entryId: entry!.id, tradeId: trade!.id, matchesDeleted: 1 });
        expect((await db.select({ id: reconciliationMatches.id }).from(reconciliationMatches)).map((m) => m.id)).toEqual([right!.id]);
        expect(await db.$count(bankAccountEntries)).toBe(1);
        expect(await db.$count(trades, eq(trades.id, trade!.id))).toBe(1);
        await expect(undoReconciliationMatch(db, { matchId: wrong!.id })).rejects.toThrow(`undoReconciliationMatch: reconciliation match ${wrong!.id} does not exist`);
      });
    });
  });
});
