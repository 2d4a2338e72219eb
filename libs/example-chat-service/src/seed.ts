import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { membership, message, orderLine, plan, thread, user, workspace } from './schema.ts';
import { seedUuid } from './seed-ids.ts';

export interface SeedOptions {
  /** Multiplies workspaces (4) and users (50); a positive integer, 1 by default. */
  scale?: number;
}

/** Rows the seed wrote, per table. */
export interface SeedCounts {
  plans: number;
  users: number;
  workspaces: number;
  memberships: number;
  threads: number;
  messages: number;
  orderLines: number;
}

type AnyPgDatabase = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

interface SeedRows {
  plans: (typeof plan.$inferInsert)[];
  users: (typeof user.$inferInsert)[];
  workspaces: (typeof workspace.$inferInsert)[];
  memberships: (typeof membership.$inferInsert)[];
  threads: (typeof thread.$inferInsert)[];
  messages: (typeof message.$inferInsert)[];
  orderLines: (typeof orderLine.$inferInsert)[];
}

const INSERT_CHUNK = 500;
const BASE = Date.UTC(2025, 0, 6, 9, 0, 0);
const HOUR = 3_600_000;

const PLANS = [
  { id: 'free', name: 'Free', priceCents: 0, features: ['3 threads'] },
  { id: 'pro', name: 'Pro', priceCents: 2_000, features: ['unlimited threads', 'file uploads'] },
  { id: 'team', name: 'Team', priceCents: 5_000, features: ['unlimited threads', 'file uploads', 'shared threads'] },
  { id: 'enterprise', name: 'Enterprise', priceCents: 20_000, features: ['everything', 'sso', 'audit log'] },
  { id: 'extra-seats', name: 'Extra seats', priceCents: 800, features: ['seat'] },
] as const;
const WORKSPACE_PLANS = ['free', 'pro', 'team', 'enterprise'] as const;
const FIRST_NAMES = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Dijkstra', 'Perlman'];
const TOPICS = ['Q3 launch plan', 'Flaky deploys', 'Pricing page copy', 'Onboarding survey', 'Incident 2025-01', 'Hiring loop', 'Design review'];
const LINES = [
  'Can someone take a look at this?',
  'I pushed a fix, it should be live in ten minutes.',
  'Looks good to me.',
  'What about the customers on the old plan?',
  'Let us pick this up on Monday.',
  'Here is the dashboard: numbers are back to normal.',
];

const at = (hours: number) => new Date(BASE + hours * HOUR);

/**
 * The data set, built without I/O from fixed rules so tests can derive exact counts
 * (W = 4 × scale workspaces, U = 50 × scale users):
 * - user i (1-based) is a member of workspace ((i − 1) mod W) + 1, and when i mod 5 = 0
 *   also of workspace (i mod W) + 1; users 1…W own workspaces 1…W; user i > 10 was
 *   invited by user i − 10;
 * - user i starts i mod 3 threads in their first workspace; thread t (1-based, in the
 *   order users start them) has 3 + (t mod 6) messages, the even ones (0, 2, …) by its
 *   starter, the odd ones by the workspace's next member after the starter (by user number,
 *   wrapping round);
 * - membership (w, i) has (i + w) mod 3 order lines, all in one order: the workspace's plan,
 *   then extra seats.
 */
export function seedRows(options: SeedOptions = {}): SeedRows {
  const scale = options.scale ?? 1;
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`seed: scale must be a positive integer, got ${String(options.scale)}`);
  }
  const workspaceCount = 4 * scale;
  const userCount = 50 * scale;
  const userNumbers = Array.from({ length: userCount }, (_, k) => k + 1);
  const workspaceNumbers = Array.from({ length: workspaceCount }, (_, k) => k + 1);
  const workspacesOf = (i: number) =>
    i % 5 === 0 ? [((i - 1) % workspaceCount) + 1, (i % workspaceCount) + 1] : [((i - 1) % workspaceCount) + 1];
  const membersOf = new Map(workspaceNumbers.map((w) => [w, userNumbers.filter((i) => workspacesOf(i).includes(w))]));
  const planOf = (w: number) => WORKSPACE_PLANS[(w - 1) % WORKSPACE_PLANS.length]!;
  const nameOf = (i: number) => `${FIRST_NAMES[(i - 1) % 10]} ${LAST_NAMES[Math.floor((i - 1) / 10) % 10]}`;
  const emailOf = (i: number) => `${nameOf(i).toLowerCase().replace(' ', '.')}.${i}@example.com`;

  const users = userNumbers.map((i) => ({
    id: seedUuid('user', i),
    email: emailOf(i),
    name: nameOf(i),
    invitedById: i > 10 ? seedUuid('user', i - 10) : null,
    preferences: i % 4 === 0 ? null : { theme: i % 2 === 0 ? ('dark' as const) : ('light' as const), locale: 'en-GB' },
    createdAt: at(i),
  }));
  const workspaces = workspaceNumbers.map((w) => ({
    id: seedUuid('workspace', w),
    slug: `workspace-${w}`,
    name: `Workspace ${w}`,
    ownerId: seedUuid('user', w),
    planId: planOf(w),
    settings: { retentionDays: 30 * w, allowGuests: w % 2 === 0 },
    createdAt: at(w),
  }));
  const memberships = userNumbers.flatMap((i) =>
    workspacesOf(i).map((w) => ({
      workspaceId: seedUuid('workspace', w),
      userId: seedUuid('user', i),
      role: i === w ? ('owner' as const) : i % 7 === 0 ? ('admin' as const) : ('member' as const),
      joinedAt: at(100 + i),
    })),
  );

  const threads: SeedRows['threads'] = [];
  const messages: SeedRows['messages'] = [];
  for (const i of userNumbers) {
    const w = workspacesOf(i)[0]!;
    const members = membersOf.get(w)!;
    const responder = members[(members.indexOf(i) + 1) % members.length]!;
    for (let k = 0; k < i % 3; k++) {
      const t = threads.length + 1;
      const threadId = seedUuid('thread', t);
      threads.push({
        id: threadId,
        workspaceId: seedUuid('workspace', w),
        createdById: seedUuid('user', i),
        title: TOPICS[t % TOPICS.length]!,
        createdAt: at(200 + t),
      });
      for (let j = 0; j < 3 + (t % 6); j++) {
        const body = LINES[(t + j) % LINES.length]!;
        messages.push({
          id: seedUuid('message', messages.length + 1),
          threadId,
          authorId: seedUuid('user', j % 2 === 0 ? i : responder),
          text: body,
          parts: [{ type: 'text', text: body }],
          createdAt: at(200 + t + j / 10),
        });
      }
    }
  }

  const orderLines: SeedRows['orderLines'] = [];
  let orders = 0;
  for (const i of userNumbers) {
    for (const w of workspacesOf(i)) {
      const lines = (i + w) % 3;
      if (lines === 0) continue;
      orders += 1;
      const lineBase = {
        workspaceId: seedUuid('workspace', w),
        userId: seedUuid('user', i),
        order: `ORD-${String(orders).padStart(5, '0')}`,
        user: { email: emailOf(i), name: nameOf(i) },
        createdAt: at(300 + orders),
      };
      const workspacePlan = PLANS.find((p) => p.id === planOf(w))!;
      const extraSeats = PLANS.find((p) => p.id === 'extra-seats')!;
      orderLines.push({ ...lineBase, planId: workspacePlan.id, quantity: 1, unitPriceCents: workspacePlan.priceCents });
      if (lines === 2) {
        orderLines.push({ ...lineBase, planId: extraSeats.id, quantity: 1 + (i % 5), unitPriceCents: extraSeats.priceCents });
      }
    }
  }

  const plans = PLANS.map((p) => ({ ...p, features: [...p.features] }));
  return { plans, users, workspaces, memberships, threads, messages, orderLines };
}

async function insertChunked<T>(rows: T[], insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await insert(rows.slice(i, i + INSERT_CHUNK));
  }
}

/**
 * Fills an empty database that has the schema (see `applySchema`) with the data set of
 * `seedRows`, in one transaction; the same options always write the same rows and ids.
 */
export async function seed(db: AnyPgDatabase, options: SeedOptions = {}): Promise<SeedCounts> {
  const rows = seedRows(options);
  await db.transaction(async (tx) => {
    await tx.insert(plan).values(rows.plans);
    await insertChunked(rows.users, (chunk) => tx.insert(user).values(chunk));
    await tx.insert(workspace).values(rows.workspaces);
    await insertChunked(rows.memberships, (chunk) => tx.insert(membership).values(chunk));
    await insertChunked(rows.threads, (chunk) => tx.insert(thread).values(chunk));
    await insertChunked(rows.messages, (chunk) => tx.insert(message).values(chunk));
    await insertChunked(rows.orderLines, (chunk) => tx.insert(orderLine).values(chunk));
  });
  return {
    plans: rows.plans.length,
    users: rows.users.length,
    workspaces: rows.workspaces.length,
    memberships: rows.memberships.length,
    threads: rows.threads.length,
    messages: rows.messages.length,
    orderLines: rows.orderLines.length,
  };
}
