import { partnerFeatures, partners } from '@snippets/example-service/schema';
import { applySnippetFile, openServiceTestDatabase } from '@snippets/runner/testing';
import { asc, eq } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';

const snippet = new URL('./0004_activate_instant_payouts_for_pilot_partners.ts', import.meta.url);
let database: Awaited<ReturnType<typeof openServiceTestDatabase>>;

// A fresh database per test, built by the service's own migrations.
beforeEach(async () => {
  database = await openServiceTestDatabase(new URL('..', import.meta.url));
});
afterEach(() => database.close());

// The pilot's partners (2, 7, 12, as reviewed), one of which already has the feature, and one outside the pilot.
async function arrange(deactivated?: number) {
  const { db } = database;
  await db.insert(partners).values(
    [2, 5, 7, 12].map((id) => ({ id, name: `Partner ${id}`, country: 'DE', deactivatedAt: id === deactivated ? new Date('2026-10-01T00:00:00Z') : null })),
  );
  await db.insert(partnerFeatures).values({ partnerId: 7, feature: 'instant_payouts', activatedAt: new Date('2026-03-01T00:00:00Z') });
}

it('activates instant payouts for the pilot partners that lack it, through the service', async () => {
  await arrange();
  const result = await applySnippetFile(database, snippet);

  const rows = await database.db
    .select({ partnerId: partnerFeatures.partnerId, feature: partnerFeatures.feature, activatedAt: partnerFeatures.activatedAt })
    .from(partnerFeatures)
    .orderBy(asc(partnerFeatures.partnerId));
  expect(rows.map(({ partnerId, feature }) => `${partnerId}:${feature}`)).toEqual(['2:instant_payouts', '7:instant_payouts', '12:instant_payouts']);
  // Partner 7 keeps the activation it had.
  expect(rows.find((r) => r.partnerId === 7)!.activatedAt).toEqual(new Date('2026-03-01T00:00:00Z'));
  expect(result.rowsChanged).toEqual({ 'public.partner_features': { inserted: 2, updated: 0, deleted: 0 } });
  expect(result.verify).toMatchObject({ ok: true });
});

it('fails, changing nothing, when a pilot partner was deactivated since the review', async () => {
  await arrange(12);
  await expect(applySnippetFile(database, snippet)).rejects.toThrow('activateFeatureForPartners: partner 12 was deactivated on 2026-10-01T00:00:00.000Z');
  expect(await database.db.select().from(partnerFeatures).where(eq(partnerFeatures.feature, 'instant_payouts'))).toHaveLength(1);
});
