import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { migrate, seed } from '../src/index.ts';
import { DRIVERS } from './support/databases.ts';

const rowsOf = (result: unknown) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];

describe.each(DRIVERS)('the example service on %s', (_driver, withDb) => {
  it('migrates, and seeds a few thousand rows carrying the faults the demo snippets fix', async () => {
    await withDb(async (db) => {
      await migrate(db as never);
      const counts = await seed(db as never);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBeGreaterThan(3_000);

      const [faults] = rowsOf(
        await db.execute(sql`select
          (select count(*)::int from trades where settlement_currency is null) as trades_without_currency,
          (select count(*)::int from users where email <> lower(trim(email))) as messy_emails,
          (select count(*)::int from api_keys k join partners p on p.id = k.partner_id
             where k.revoked_at is null and p.deactivated_at is not null) as live_keys_of_gone_partners`),
      );
      expect(faults!.trades_without_currency).toBeGreaterThan(0);
      expect(faults!.messy_emails).toBeGreaterThan(0);
      expect(faults!.live_keys_of_gone_partners).toBeGreaterThan(0);

      const [migrations] = rowsOf(await db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`));
      expect(migrations!.n).toBe(3);
    });
  });

  it('deleting a bank account entry cascades to its reconciliation matches', async () => {
    await withDb(async (db) => {
      await migrate(db as never);
      await seed(db as never, { scale: 1 });
      const [entry] = rowsOf(await db.execute(sql`select entry_id from reconciliation_matches limit 1`));
      await db.execute(sql`delete from bank_account_entries where id = ${entry!.entry_id}`);
      const [left] = rowsOf(await db.execute(sql`select count(*)::int as n from reconciliation_matches where entry_id = ${entry!.entry_id}`));
      expect(left!.n).toBe(0);
    });
  });
});
