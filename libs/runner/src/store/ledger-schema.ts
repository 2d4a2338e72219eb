import { sql } from 'drizzle-orm';
import { bigserial, integer, jsonb, pgSchema, primaryKey, text, timestamp, type PgInsertValue } from 'drizzle-orm/pg-core';
import type { SnippetDb } from '../database/snippet-db.ts';
import type { TableChanges } from '../checks/change-counts.ts';
import type { LedgerStatus } from './transitions.ts';
import { CHECK_SCHEMA_FUNCTION, CLOSING_FUNCTIONS, checkSchemaFunction } from './closing-statement.ts';
import { queryRows } from '../database/queries.ts';

/**
 * The ledger lives in schema `snippets` of the target database, beside the data it
 * describes, so a snippet's work and its ledger row commit in one transaction.
 */
export const snippetsSchema = pgSchema('snippets');

export type { LedgerStatus } from './transitions.ts';

export const ledger = snippetsSchema.table(
  'ledger',
  {
    repo: text('repo').notNull(),
    id: text('id').notNull(),
    number: integer('number').notNull(),
    checksum: text('checksum').notNull(),
    status: text('status').$type<LedgerStatus>().notNull(),
    description: text('description'),
    gitSha: text('git_sha'),
    image: text('image'),
    // The service package the snippet imported, as installed in the image (ledger schema v7).
    servicePackage: text('service_package'),
    serviceVersion: text('service_version'),
    approvedBy: text('approved_by'),
    executedBy: text('executed_by'),
    host: text('host'),
    ciRunUrl: text('ci_run_url'),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    durationMs: integer('duration_ms'),
    rowsChanged: jsonb('rows_changed').$type<TableChanges>().notNull().default({}),
    verifyResult: jsonb('verify_result').$type<{ ok: boolean; message?: string } | null>(),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.repo, t.id] })],
);

export type EventKind =
  | 'started'
  | 'applied'
  | 'failed'
  | 'dry-run'
  | 'refused'
  | 'baselined'
  | 'reverted'
  | 'revert-failed'
  | 'verified'
  | 'verify-failed'
  | 'squashed'
  | 'helped'
  | 'lock-acquired'
  | 'lock-released'
  | 'lock-lost'
  | 'notified'
  | 'notify-failed';

export const events = snippetsSchema.table('events', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  // The server's clock when the event is written (ledger schema v6), not now(): see ServerTime.
  at: timestamp('at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  repo: text('repo').notNull(),
  snippetId: text('snippet_id'),
  kind: text('kind').$type<EventKind>().notNull(),
  checksum: text('checksum'),
  executedBy: text('executed_by'),
  host: text('host'),
  gitSha: text('git_sha'),
  image: text('image'),
  servicePackage: text('service_package'),
  serviceVersion: text('service_version'),
  approvedBy: text('approved_by'),
  ciRunUrl: text('ci_run_url'),
  reason: text('reason'),
  detail: jsonb('detail').$type<Record<string, unknown>>(),
});

export type { TableChanges } from '../checks/change-counts.ts';
export type LedgerRow = typeof ledger.$inferSelect;
export type NewLedgerRow = typeof ledger.$inferInsert;
export type EventRow = typeof events.$inferSelect;
export type NewEvent = typeof events.$inferInsert;

/** Each step upgrades the ledger schema by one version; never edit a step that shipped. */
const SCHEMA_STEPS: string[][] = [
  [
    `create table snippets.ledger (
      repo text not null,
      id text not null,
      number integer not null,
      checksum text not null,
      status text not null check (status in ('applied', 'baselined', 'reverted')),
      description text,
      git_sha text, image text, approved_by text, executed_by text, host text, ci_run_url text,
      started_at timestamptz, finished_at timestamptz, duration_ms integer,
      rows_changed jsonb not null default '{}',
      verify_result jsonb,
      error text,
      primary key (repo, id))`,
    `create table snippets.events (
      seq bigserial primary key,
      at timestamptz not null default now(),
      repo text not null,
      snippet_id text,
      kind text not null,
      checksum text, executed_by text, host text, git_sha text, image text, approved_by text, ci_run_url text,
      reason text,
      detail jsonb)`,
    `create index events_repo_snippet_idx on snippets.events (repo, snippet_id)`,
    `create table snippets.checkpoints (
      repo text not null,
      id text not null,
      cursor jsonb,
      batches_done integer not null default 0,
      rows_done bigint not null default 0,
      updated_at timestamptz not null default now(),
      primary key (repo, id))`,
    `create table snippets.locks (
      name text primary key,
      holder text not null,
      acquired_at timestamptz not null default now(),
      expires_at timestamptz)`,
  ],
  [
    // v2: a squash recorded on a database that never ran the snippets it replaces.
    `alter table snippets.ledger drop constraint ledger_status_check`,
    `alter table snippets.ledger add constraint ledger_status_check check (status in ('applied', 'baselined', 'reverted', 'squashed'))`,
  ],
  [
    // v3: a batched walk is split into key ranges that workers claim one batch at a time
    // (FOR UPDATE SKIP LOCKED), each range carrying its own cursor and counts.
    `create table snippets.ranges (
      repo text not null,
      id text not null,
      walk text not null,
      range_no integer not null,
      lo jsonb,
      hi jsonb,
      cursor jsonb,
      rows_total bigint not null default 0,
      rows_done bigint not null default 0,
      batches_done integer not null default 0,
      changes jsonb not null default '{}',
      done boolean not null default false,
      updated_at timestamptz not null default now(),
      primary key (repo, id, walk, range_no),
      foreign key (repo, id) references snippets.checkpoints (repo, id) on delete cascade)`,
    // A walk checkpointed by a v2 runner becomes one range, so its run resumes where it was.
    `insert into snippets.ranges (repo, id, walk, range_no, cursor, rows_total, rows_done, batches_done, done)
     select c.repo, c.id, w.key, 0, w.value->'cursor', coalesce((w.value->>'rows')::bigint, 0),
            coalesce((w.value->>'rows')::bigint, 0), coalesce((w.value->>'batches')::int, 0), coalesce((w.value->>'done')::boolean, false)
     from snippets.checkpoints c, jsonb_each(coalesce(c.cursor->'walks', '{}')) w`,
    `alter table snippets.checkpoints drop column batches_done, drop column rows_done`,
  ],
  [
    // v4: release locks are leases a holder keeps alive with heartbeats.
    `alter table snippets.locks add column ttl_ms integer not null default 0, add column heartbeat_at timestamptz`,
  ],
  [
    // v5: an atomic snippet's checks run in SQL with its ledger row, refusing through these.
    ...CLOSING_FUNCTIONS,
  ],
  [
    // v6: one clock, the server's clock_timestamp(). now() is the transaction's start: two
    // events of one transaction got the same time, and a transaction begun ahead of its
    // work an earlier one than the work's.
    `alter table snippets.events alter column at set default clock_timestamp()`,
    `alter table snippets.checkpoints alter column updated_at set default clock_timestamp()`,
    `alter table snippets.ranges alter column updated_at set default clock_timestamp()`,
  ],
  [
    // v7: beside the image, the service package its snippets ran against and its version.
    `alter table snippets.ledger add column service_package text, add column service_version text`,
    `alter table snippets.events add column service_package text, add column service_version text`,
  ],
  [
    // v8: the schema check's function is named after the fingerprint query it embeds (see
    // checkSchemaFunction), so a runner whose query changed installs its own beside it.
    `drop function if exists snippets.check_schema(text)`,
    // What a checkpoint row holds: the file's checksum, the leader's backend pid, and a v2
    // run's changes. Its walks' cursors are in snippets.ranges.
    `alter table snippets.checkpoints rename column cursor to state`,
  ],
];

/** ('snip', 0): no repo lock key is 0 in practice, and a clash would only make one wait. */
const LEDGER_DDL_LOCK = [0x736e6970, 0] as const;

export async function ledgerExists(db: SnippetDb): Promise<boolean> {
  const [row] = await queryRows<{ exists: boolean }>(db, sql`select to_regclass('snippets.ledger') is not null as exists`);
  return row?.exists === true;
}

/** Creates or upgrades the `snippets` schema. Call it while holding the repo's advisory lock. */
export async function ensureLedger(db: SnippetDb): Promise<void> {
  await db.transaction(async (tx) => {
    // Repos sharing a database hold different repo locks; this one serialises their DDL.
    await tx.execute(sql`select pg_advisory_xact_lock(${LEDGER_DDL_LOCK[0]}, ${LEDGER_DDL_LOCK[1]})`);
    await tx.execute(sql`create schema if not exists snippets`);
    await tx.execute(sql`create table if not exists snippets.meta (key text primary key, value text not null)`);
    const [row] = await queryRows<{ value: string }>(tx, sql`select value from snippets.meta where key = 'schema_version'`);
    const current = row ? Number(row.value) : 0;
    if (current > SCHEMA_STEPS.length) {
      throw new Error(
        `the snippets ledger schema is version ${current}, newer than this runner knows (${SCHEMA_STEPS.length}); upgrade @snippets/runner`,
      );
    }
    for (const step of SCHEMA_STEPS.slice(current)) {
      for (const statement of step) await tx.execute(sql.raw(statement));
    }
    await tx.execute(
      sql`insert into snippets.meta (key, value) values ('schema_version', ${String(SCHEMA_STEPS.length)})
          on conflict (key) do update set value = excluded.value`,
    );
    const [check] = await queryRows<{ installed: boolean }>(tx, sql`select to_regprocedure(${`${CHECK_SCHEMA_FUNCTION}(text)`}) is not null as installed`);
    if (!check?.installed) await tx.execute(sql.raw(checkSchemaFunction()));
  });
}
