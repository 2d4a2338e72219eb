import { sql } from 'drizzle-orm';
import {
  char,
  index,
  integer,
  numeric,
  pgTable,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email').notNull(),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export const partners = pgTable('partners', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  country: char('country', { length: 2 }).notNull(),
  deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
});

/** Features switched on per partner; one row per partner and feature. */
export const partnerFeatures = pgTable(
  'partner_features',
  {
    id: serial('id').primaryKey(),
    partnerId: integer('partner_id')
      .notNull()
      .references(() => partners.id, { onDelete: 'cascade' }),
    feature: text('feature').notNull(),
    activatedAt: timestamp('activated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('partner_features_partner_id_feature_idx').on(t.partnerId, t.feature)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: serial('id').primaryKey(),
    partnerId: integer('partner_id')
      .notNull()
      .references(() => partners.id),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    keyHash: text('key_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_key_hash_idx').on(t.keyHash)],
);

export const deals = pgTable(
  'deals',
  {
    id: serial('id').primaryKey(),
    partnerId: integer('partner_id')
      .notNull()
      .references(() => partners.id),
    reference: text('reference').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    amount: numeric('amount', { precision: 18, scale: 2 }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('deals_reference_idx').on(t.reference)],
);

export const trades = pgTable(
  'trades',
  {
    id: serial('id').primaryKey(),
    dealId: integer('deal_id')
      .notNull()
      .references(() => deals.id),
    quantity: numeric('quantity', { precision: 18, scale: 4 }).notNull(),
    price: numeric('price', { precision: 18, scale: 6 }).notNull(),
    status: text('status', { enum: ['pending', 'executed', 'settled', 'cancelled'] })
      .notNull()
      .default('pending'),
    executedAt: timestamp('executed_at', { withTimezone: true }),
    /** Added by migration 0001; rows written before it need a backfill. */
    settlementCurrency: char('settlement_currency', { length: 3 }),
  },
  (t) => [index('trades_deal_id_idx').on(t.dealId)],
);

export const bankAccountEntries = pgTable(
  'bank_account_entries',
  {
    id: serial('id').primaryKey(),
    accountIban: text('account_iban').notNull(),
    amount: numeric('amount', { precision: 18, scale: 2 }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    bookedAt: timestamp('booked_at', { withTimezone: true }).notNull(),
    description: text('description').notNull().default(''),
    partnerId: integer('partner_id').references(() => partners.id),
  },
  (t) => [index('bank_account_entries_booked_at_idx').on(t.bookedAt)],
);

export const reconciliationMatches = pgTable(
  'reconciliation_matches',
  {
    id: serial('id').primaryKey(),
    entryId: integer('entry_id')
      .notNull()
      .references(() => bankAccountEntries.id, { onDelete: 'cascade' }),
    tradeId: integer('trade_id').references(() => trades.id, { onDelete: 'set null' }),
    matchedBy: integer('matched_by').references(() => users.id, { onDelete: 'set null' }),
    matchedAt: timestamp('matched_at', { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index('reconciliation_matches_entry_id_idx').on(t.entryId)],
);
