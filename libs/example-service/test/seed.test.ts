import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { migrate, seed } from '../src/index.ts';

const SERVER_URL = process.env.SNIPPETS_TEST_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function onPostgres(work: (db: ReturnType<typeof drizzlePostgres>) => Promise<void>) {
  const name = `service_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(SERVER_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const client = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await work(drizzlePostgres({ client }));
  } finally {
    await client.end();
    await admin.unsafe(`drop database ${name} with (force)`);
    await admin.end();
  }
}

async function onPglite(work: (db: ReturnType<typeof drizzlePglite>) => Promise<void>) {
  const client = await PGlite.create();
  try {
    await work(drizzlePglite({ client }));
  } finally {
    await client.close();
  }
}

const rowsOf = (result: unknown) => (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Record<string, unknown>[];

describe.each([
  ['postgres', onPostgres],
  ['pglite', onPglite],
] as const)('the example service on %s', (_driver, withDb) => {
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
      expect(migrations!.n).toBe(2);
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
