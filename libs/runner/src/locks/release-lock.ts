import { sql } from 'drizzle-orm';
import type { SnippetDb } from '../database/snippet-db.ts';
import { queryRows } from '../database/queries.ts';

/**
 * The release lock: a named lease in `snippets.locks` that keeps a service's releases and
 * a snippet run apart. Unlike the repo's advisory lock it outlives a connection, so a
 * pipeline can take it in one step and release it in another; a holder that dies stops
 * renewing it and loses it when its time-to-live runs out.
 */
export interface Lease {
  name: string;
  holder: string;
  acquiredAt: Date;
  expiresAt: Date;
  heartbeatAt: Date | null;
  ttlMs: number;
  /** Not expired, by the database's clock. */
  live: boolean;
}

interface LeaseRow {
  name: string;
  holder: string;
  acquired_at: string | Date;
  expires_at: string | Date;
  heartbeat_at: string | Date | null;
  ttl_ms: number;
  live: boolean;
  [key: string]: unknown;
}

/** A lease is held while it has not expired, by the database's clock (never the runner's). */
const LIVE = sql.raw('expires_at > now() as live');

function toLease(row: LeaseRow): Lease {
  return {
    name: row.name,
    holder: row.holder,
    acquiredAt: new Date(row.acquired_at),
    expiresAt: new Date(row.expires_at),
    heartbeatAt: row.heartbeat_at ? new Date(row.heartbeat_at) : null,
    ttlMs: Number(row.ttl_ms ?? 0),
    live: row.live === true,
  };
}

export async function readLease(db: SnippetDb, name: string): Promise<Lease | undefined> {
  const [row] = await queryRows<LeaseRow>(db, sql`select *, ${LIVE} from snippets.locks where name = ${name}`);
  return row && toLease(row);
}

/**
 * Takes the lease if it is free or expired, or renews it if `holder` has it. Returns the
 * lease and whether `holder` now holds it; one statement, so two racing takers cannot
 * both win.
 */
export async function tryAcquire(db: SnippetDb, name: string, holder: string, ttlMs: number): Promise<{ acquired: boolean; lease: Lease | undefined }> {
  const ttl = `${Math.round(ttlMs)} milliseconds`;
  const [taken] = await queryRows<LeaseRow>(
    db,
    sql`insert into snippets.locks as l (name, holder, acquired_at, expires_at, heartbeat_at, ttl_ms)
        values (${name}, ${holder}, now(), now() + ${ttl}::interval, now(), ${Math.round(ttlMs)})
        on conflict (name) do update
          set holder = excluded.holder,
              acquired_at = case when l.holder = excluded.holder and l.expires_at > now() then l.acquired_at else now() end,
              expires_at = excluded.expires_at, heartbeat_at = now(), ttl_ms = excluded.ttl_ms
          where l.expires_at <= now() or l.holder = excluded.holder
        returning *, ${LIVE}`,
  );
  if (taken) return { acquired: true, lease: toLease(taken) };
  return { acquired: false, lease: await readLease(db, name) };
}

/** Renews `holder`'s lease for its own time-to-live; false when it is no longer theirs. */
export async function renew(db: SnippetDb, name: string, holder: string): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`update snippets.locks set expires_at = now() + ttl_ms * interval '1 millisecond', heartbeat_at = now()
        where name = ${name} and holder = ${holder} and expires_at > now()
        returning name`,
  );
  return rows.length > 0;
}

/** Gives the lease up if `holder` has it; returns what was there before. */
export async function release(db: SnippetDb, name: string, holder: string): Promise<{ released: boolean; lease: Lease | undefined }> {
  const [gone] = await queryRows<LeaseRow>(db, sql`delete from snippets.locks where name = ${name} and holder = ${holder} returning *, ${LIVE}`);
  if (gone) return { released: true, lease: toLease(gone) };
  return { released: false, lease: await readLease(db, name) };
}

export async function databaseNow(db: SnippetDb): Promise<Date> {
  const [row] = await queryRows<{ now: string | Date }>(db, sql`select now() as now`);
  return new Date(row!.now);
}
