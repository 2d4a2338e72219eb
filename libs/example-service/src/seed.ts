import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import {
  apiKeys,
  bankAccountEntries,
  deals,
  partners,
  reconciliationMatches,
  trades,
  users,
} from './schema.ts';

export interface SeedOptions {
  /** Scales every table; 1 makes a few thousand rows. */
  scale?: number;
  /** Same seed, same rows: tests and the demo rely on it. */
  seed?: number;
}

export interface SeedCounts {
  users: number;
  partners: number;
  apiKeys: number;
  deals: number;
  trades: number;
  bankAccountEntries: number;
  reconciliationMatches: number;
}

type AnyPgDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF'] as const;
const COUNTRIES = ['DE', 'FR', 'GB', 'CH', 'US', 'NL'] as const;
const INSERT_CHUNK = 500;

/** A tiny seeded PRNG (mulberry32): reproducible data without a dependency. */
function randomSource(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
  };
}

async function insertChunked<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await insert(rows.slice(i, i + INSERT_CHUNK));
  }
}

/**
 * Fills an empty, migrated database with a realistic payments data set that carries
 * the kinds of faults data fixes exist for: trades written before settlement_currency
 * existed, e-mail addresses typed with capitals and spaces, and live API keys of
 * partners that were deactivated.
 */
export async function seed(db: AnyPgDatabase, options: SeedOptions = {}): Promise<SeedCounts> {
  const scale = options.scale ?? 1;
  const rnd = randomSource(options.seed ?? 42);
  const base = Date.UTC(2026, 0, 1);
  const day = 86_400_000;

  const userRows = Array.from({ length: 200 * scale }, (_, i) => {
    const local = `user${i + 1}`;
    const messy = rnd.chance(0.1);
    return {
      name: `User ${i + 1}`,
      email: messy ? ` ${local.toUpperCase()}@Example.COM ` : `${local}@example.com`,
      createdAt: new Date(base + rnd.int(0, 300) * day),
    };
  });
  const partnerRows = Array.from({ length: 40 * scale }, (_, i) => ({
    name: `Partner ${i + 1}`,
    country: rnd.pick(COUNTRIES),
    deactivatedAt: rnd.chance(0.15) ? new Date(base + rnd.int(200, 300) * day) : null,
  }));

  return db.transaction(async (tx) => {
    const userIds = (await tx.insert(users).values(userRows).returning({ id: users.id })).map((r) => r.id);
    const partnerIds = (await tx.insert(partners).values(partnerRows).returning({ id: partners.id })).map(
      (r) => r.id,
    );

    const keyRows = Array.from({ length: 120 * scale }, (_, i) => ({
      partnerId: rnd.pick(partnerIds),
      createdBy: rnd.pick(userIds),
      keyHash: `sha256:${(i + 1).toString(16).padStart(8, '0')}${rnd.int(0, 1e9).toString(16)}`,
      revokedAt: rnd.chance(0.1) ? new Date(base + rnd.int(0, 300) * day) : null,
    }));
    await tx.insert(apiKeys).values(keyRows);

    const dealRows = Array.from({ length: 600 * scale }, (_, i) => ({
      partnerId: rnd.pick(partnerIds),
      reference: `D-${String(i + 1).padStart(6, '0')}`,
      currency: rnd.pick(CURRENCIES),
      amount: (rnd.int(1_000, 5_000_000) / 100).toFixed(2),
      createdAt: new Date(base + rnd.int(0, 300) * day),
    }));
    const dealIds: { id: number; currency: string }[] = [];
    await insertChunked(dealRows, async (chunk) => {
      dealIds.push(...(await tx.insert(deals).values(chunk).returning({ id: deals.id, currency: deals.currency })));
    });

    const tradeRows = Array.from({ length: 1_500 * scale }, () => {
      const deal = rnd.pick(dealIds);
      const status = rnd.pick(['pending', 'executed', 'settled', 'cancelled'] as const);
      return {
        dealId: deal.id,
        quantity: (rnd.int(1, 1_000_000) / 100).toFixed(4),
        price: (rnd.int(1, 10_000_000) / 1000).toFixed(6),
        status,
        executedAt: status === 'pending' ? null : new Date(base + rnd.int(0, 300) * day),
        // A third of the trades predate the settlement_currency column.
        settlementCurrency: rnd.chance(0.33) ? null : deal.currency,
      };
    });
    const tradeIds: number[] = [];
    await insertChunked(tradeRows, async (chunk) => {
      tradeIds.push(...(await tx.insert(trades).values(chunk).returning({ id: trades.id })).map((r) => r.id));
    });

    const entryRows = Array.from({ length: 1_000 * scale }, (_, i) => ({
      accountIban: `DE89370400440532013${String(rnd.int(0, 999)).padStart(3, '0')}`,
      amount: (rnd.int(-500_000, 5_000_000) / 100).toFixed(2),
      currency: rnd.pick(CURRENCIES),
      bookedAt: new Date(base + rnd.int(0, 300) * day),
      description: `Transfer ${i + 1}`,
      partnerId: rnd.chance(0.8) ? rnd.pick(partnerIds) : null,
    }));
    const entryIds: number[] = [];
    await insertChunked(entryRows, async (chunk) => {
      entryIds.push(
        ...(await tx.insert(bankAccountEntries).values(chunk).returning({ id: bankAccountEntries.id })).map(
          (r) => r.id,
        ),
      );
    });

    const matchRows = entryIds
      .filter(() => rnd.chance(0.6))
      .map((entryId) => ({
        entryId,
        tradeId: rnd.pick(tradeIds),
        matchedBy: rnd.chance(0.5) ? rnd.pick(userIds) : null,
        matchedAt: new Date(base + rnd.int(0, 300) * day),
      }));
    await insertChunked(matchRows, (chunk) => tx.insert(reconciliationMatches).values(chunk));

    await tx.execute(sql`analyze`);
    return {
      users: userRows.length,
      partners: partnerRows.length,
      apiKeys: keyRows.length,
      deals: dealRows.length,
      trades: tradeRows.length,
      bankAccountEntries: entryRows.length,
      reconciliationMatches: matchRows.length,
    };
  });
}
