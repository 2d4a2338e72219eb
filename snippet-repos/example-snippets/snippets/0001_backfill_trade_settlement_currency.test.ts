import { deals, partners, trades } from '@snippets/example-service/schema';
import { applySnippetFile, openServiceTestDatabase } from '@snippets/runner/testing';
import { asc } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';

const snippet = new URL('./0001_backfill_trade_settlement_currency.ts', import.meta.url);
let database: Awaited<ReturnType<typeof openServiceTestDatabase>>;

// A fresh database per test, built by the service's own migrations.
beforeEach(async () => {
  database = await openServiceTestDatabase(new URL('..', import.meta.url));
});
afterEach(() => database.close());

it("fills only the missing settlement currencies from each trade's deal", async () => {
  const { db } = database;
  const [partner] = await db.insert(partners).values({ name: 'Acme', country: 'DE' }).returning();
  const [eur, usd] = await db
    .insert(deals)
    .values([
      { partnerId: partner!.id, reference: 'D-1', currency: 'EUR', amount: '100.00' },
      { partnerId: partner!.id, reference: 'D-2', currency: 'USD', amount: '200.00' },
    ])
    .returning();
  await db.insert(trades).values([
    { dealId: eur!.id, quantity: '1', price: '1', settlementCurrency: null },
    { dealId: usd!.id, quantity: '1', price: '1', settlementCurrency: null },
    { dealId: usd!.id, quantity: '1', price: '1', settlementCurrency: 'CHF' },
  ]);

  const result = await applySnippetFile(database, snippet);

  const after = await db.select({ currency: trades.settlementCurrency }).from(trades).orderBy(asc(trades.id));
  expect(after.map((t) => t.currency)).toEqual(['EUR', 'USD', 'CHF']);
  expect(result.rowsChanged).toEqual({ 'public.trades': { inserted: 0, updated: 2, deleted: 0 } });
  expect(result.verify).toEqual({ ok: true, message: '0 trades still have no settlement currency' });
});
