import { sql, type SQL } from 'drizzle-orm';
import type { SnippetDb } from './snippet-db.ts';
import { queryRows } from './queries.ts';

/**
 * A time read from the server's clock_timestamp(). Every time in the ledger and the events
 * comes from that one clock: the runner's may be off, and now() is the transaction's start,
 * which a transaction begun ahead (see pipelined-transactions.ts) has long before its work.
 */
export interface ServerTime {
  /** Microseconds since the epoch, exactly as the server has it (safe in a double until the year 2255). */
  micros: number;
  /** To the millisecond, for reports. */
  date: Date;
}

/**
 * Select-list column and FROM item that read the clock once in a statement that has no
 * FROM of its own: `select ..., ${SERVER_CLOCK}`. Read it back with readServerTime.
 */
export const SERVER_CLOCK = `(extract(epoch from clock.t) * 1000000)::bigint::text as clock_micros from (select clock_timestamp() as t) clock`;

export type ServerClockRow = { clock_micros: string };

export function readServerTime(row: ServerClockRow): ServerTime {
  const micros = Number(row.clock_micros);
  return { micros, date: new Date(Math.floor(micros / 1000)) };
}

/** The server's clock now, in a round trip of its own. */
export async function readServerClock(db: SnippetDb): Promise<ServerTime> {
  const [row] = await queryRows<ServerClockRow>(db, sql.raw(`select ${SERVER_CLOCK}`));
  return readServerTime(row!);
}

/** The time as a timestamptz value for a statement, to the microsecond. */
export function atServerTime(time: ServerTime): SQL {
  return sql`(timestamptz 'epoch' + ${String(time.micros)}::bigint * interval '1 microsecond')`;
}

/** SQL text of the same, for a prepared statement's parameter `$n` holding the microseconds as text. */
export const serverTimeParam = (n: number): string => `(timestamptz 'epoch' + $${n}::text::bigint * interval '1 microsecond')`;
