import { defineSnippet } from '@snippets/runner';
import { users } from '@snippets/example-service/schema';
import { count, ne, sql as drizzleSql } from 'drizzle-orm';

const normalised = drizzleSql`lower(trim(${users.email}))`;

export default defineSnippet({
  description: 'Trim and lower-case user e-mail addresses typed with spaces or capitals',
  dependsOn: ['0001_backfill_trade_settlement_currency'],
  touches: ['users'],
  async up({ db, rows, sql, log }) {
    // Two accounts that normalise to one address need a human; refuse rather than guess.
    const clashes = await rows<{ email: string }>(
      sql`select lower(trim(email)) as email from users group by 1 having count(*) > 1 limit 5`,
    );
    if (clashes.length) throw new Error(`addresses would collide after normalising: ${clashes.map((c) => c.email).join(', ')}`);
    const updated = await db.update(users).set({ email: normalised }).where(ne(users.email, normalised)).returning({ id: users.id });
    log.info(`normalised ${updated.length} addresses`);
  },
  async verify({ db }) {
    const [messy] = await db.select({ n: count() }).from(users).where(ne(users.email, normalised));
    return { ok: messy!.n === 0, message: `${messy!.n} addresses are still not normalised` };
  },
});
