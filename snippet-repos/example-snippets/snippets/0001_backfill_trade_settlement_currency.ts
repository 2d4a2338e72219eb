import { defineSnippet } from '@snippets/runner';
import { deals, trades } from '@snippets/example-service/schema';
import { and, count, eq, isNull } from 'drizzle-orm';

export default defineSnippet({
  description: "Backfill trades.settlement_currency from the deal's currency for trades written before the column existed",
  requires: { migrations: ['0001_add_settlement_currency'] },
  touches: ['trades'],
  async up({ db, sql, log }) {
    const updated = await db
      .update(trades)
      .set({ settlementCurrency: sql`${deals.currency}` })
      .from(deals)
      .where(and(eq(trades.dealId, deals.id), isNull(trades.settlementCurrency)))
      .returning({ id: trades.id });
    log.info(`backfilled ${updated.length} trades`);
  },
  async verify({ db }) {
    const [left] = await db.select({ n: count() }).from(trades).where(isNull(trades.settlementCurrency));
    return { ok: left!.n === 0, message: `${left!.n} trades still have no settlement currency` };
  },
});
