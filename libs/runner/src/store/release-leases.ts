/**
 * The release lock's leases in `snippets.locks`. A lease is a named lock that keeps a
 * service's releases and a snippet run apart. Unlike the repo's advisory lock it outlives
 * a connection, so a pipeline can take it in one step and release it in another; a
 * holder that dies stops renewing it and loses it when its time-to-live runs out. Each
 * write is guarded in its statement by who holds the lease and whether it is live, by the
 * database's clock (never the runner's).
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { SafetyRefusal } from '../errors.ts';

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

export interface ReleaseLeases {
  read(name: string): Promise<Lease | undefined>;
  /**
   * Takes the lease if it is free or expired, or renews it if `holder` has it. Returns the
   * lease and whether `holder` now holds it; one statement, so two racing takers cannot
   * both win. Held by another, it is not taken, which is no error: the caller may wait.
   */
  tryAcquire(name: string, holder: string, ttlMs: number): Promise<{ acquired: boolean; lease: Lease | undefined }>;
  /** Renews `holder`'s lease for its own time-to-live; false when it is no longer theirs. */
  renew(name: string, holder: string): Promise<boolean>;
  /**
   * Gives the lease up if `holder` has it, and returns it. A lease that is free or expired
   * is not released (`released` false); a live one of another holder is refused
   * (SafetyRefusal, 'lock-held') and stays.
   */
  release(name: string, holder: string): Promise<{ released: boolean; lease: Lease | undefined }>;
  /** The database's clock, by which leases expire. */
  now(): Promise<Date>;
}

/** The leases in the database `db` is (a connection or a transaction); they belong to no repo. */
export function releaseLeases(db: SnippetDb): ReleaseLeases {
  return new SqlReleaseLeases(db);
}

/** Who holds a lease, since when and until when: what a refusal to take or release it says. */
export function describeLease(lease: Lease): string {
  return `held by ${lease.holder} since ${lease.acquiredAt.toISOString()} (until ${lease.expiresAt.toISOString()} unless renewed)`;
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

class SqlReleaseLeases implements ReleaseLeases {
  constructor(private readonly db: SnippetDb) {}

  async read(name: string): Promise<Lease | undefined> {
    const [row] = await queryRows<LeaseRow>(this.db, sql`select *, ${LIVE} from snippets.locks where name = ${name}`);
    return row && toLease(row);
  }

  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<{ acquired: boolean; lease: Lease | undefined }> {
    const ttl = `${Math.round(ttlMs)} milliseconds`;
    const [taken] = await queryRows<LeaseRow>(
      this.db,
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
    return { acquired: false, lease: await this.read(name) };
  }

  async renew(name: string, holder: string): Promise<boolean> {
    const rows = await queryRows(
      this.db,
      sql`update snippets.locks set expires_at = now() + ttl_ms * interval '1 millisecond', heartbeat_at = now()
          where name = ${name} and holder = ${holder} and expires_at > now()
          returning name`,
    );
    return rows.length > 0;
  }

  async release(name: string, holder: string): Promise<{ released: boolean; lease: Lease | undefined }> {
    const [gone] = await queryRows<LeaseRow>(this.db, sql`delete from snippets.locks where name = ${name} and holder = ${holder} returning *, ${LIVE}`);
    if (gone) return { released: true, lease: toLease(gone) };
    const lease = await this.read(name);
    if (lease?.live) {
      throw new SafetyRefusal(`release lock '${name}' is ${describeLease(lease)}, not by ${holder}; release it with its holder's --holder`, 'lock-held', { subject: name });
    }
    return { released: false, lease: undefined };
  }

  async now(): Promise<Date> {
    const [row] = await queryRows<{ now: string | Date }>(this.db, sql`select now() as now`);
    return new Date(row!.now);
  }
}
