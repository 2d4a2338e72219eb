import {
  bigserial,
  foreignKey,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from 'drizzle-orm/pg-core';

// Shaped like a Next.js + drizzle app as drizzle-kit would create it: quoted
// PascalCase tables, camelCase quoted columns, uuid keys, and reserved words as
// column names. Every ON DELETE action here is deliberate; the README lists them.

export const plan = pgTable('Plan', {
  // A slug, not a surrogate key: 'free', 'pro', …
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  priceCents: integer('priceCents').notNull(),
  features: jsonb('features').$type<string[]>().notNull().default([]),
});

export const user = pgTable(
  'User',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    invitedById: uuid('invitedById').references((): AnyPgColumn => user.id, { onDelete: 'set null' }),
    preferences: json('preferences').$type<{ theme: 'light' | 'dark'; locale: string }>(),
    createdAt: timestamp('createdAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('User_email_key').on(t.email)],
);

export const workspace = pgTable(
  'Workspace',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    // A workspace must be handed over before its owner can be deleted.
    ownerId: uuid('ownerId')
      .notNull()
      .references(() => user.id, { onDelete: 'restrict' }),
    planId: text('planId')
      .notNull()
      .references(() => plan.id),
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp('createdAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('Workspace_slug_key').on(t.slug)],
);

export const membership = pgTable(
  'Membership',
  {
    workspaceId: uuid('workspaceId')
      .notNull()
      .references(() => workspace.id, { onDelete: 'cascade' }),
    userId: uuid('userId')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'member'] })
      .notNull()
      .default('member'),
    joinedAt: timestamp('joinedAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.userId] }), index('Membership_userId_idx').on(t.userId)],
);

export const thread = pgTable(
  'Thread',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    workspaceId: uuid('workspaceId')
      .notNull()
      .references(() => workspace.id, { onDelete: 'cascade' }),
    createdById: uuid('createdById')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
    title: text('title').notNull(),
    createdAt: timestamp('createdAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('Thread_workspaceId_idx').on(t.workspaceId)],
);

export const message = pgTable(
  'Message',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    threadId: uuid('threadId')
      .notNull()
      .references(() => thread.id, { onDelete: 'cascade' }),
    // A second cascade path from User: with Thread.createdById it makes a diamond.
    authorId: uuid('authorId')
      .notNull()
      .references(() => user.id, { onDelete: 'cascade' }),
    text: text('text').notNull(),
    parts: jsonb('parts').$type<{ type: 'text'; text: string }[]>().notNull().default([]),
    createdAt: timestamp('createdAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('Message_threadId_idx').on(t.threadId), index('Message_authorId_idx').on(t.authorId)],
);

export const orderLine = pgTable(
  'OrderLine',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: uuid('workspaceId').notNull(),
    userId: uuid('userId').notNull(),
    /** The order number; the lines of one order share it. */
    order: text('order').notNull(),
    planId: text('planId')
      .notNull()
      .references(() => plan.id),
    quantity: integer('quantity').notNull(),
    unitPriceCents: integer('unitPriceCents').notNull(),
    /** The buyer as they were when ordering, kept for invoices. */
    user: jsonb('user').$type<{ email: string; name: string }>().notNull(),
    createdAt: timestamp('createdAt', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // A line belongs to a membership: leaving the workspace takes the lines along.
    foreignKey({
      name: 'OrderLine_membership_fk',
      columns: [t.workspaceId, t.userId],
      foreignColumns: [membership.workspaceId, membership.userId],
    }).onDelete('cascade'),
    index('OrderLine_order_idx').on(t.order),
  ],
);
