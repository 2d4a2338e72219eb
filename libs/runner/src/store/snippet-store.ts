/**
 * The ledger store: every read and write of the `snippets` schema that the commands make,
 * behind one contract. Each write is checked against the transition table
 * (transitions.ts) in the statement that makes it, so a move the table lacks changes
 * nothing and fails with a refusal (exit 3). The store runs the same SQL on PostgreSQL
 * and PGlite; the closing statement an atomic snippet commits with lives beside it
 * (closing-statement.ts). It may import the SQL helpers, the lock keys and its own
 * folder, never a command or the executor.
 */
import { and, asc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import { addChanges, type TableChanges } from '../checks/change-counts.ts';
import { SafetyRefusal } from '../errors.ts';
import { repoLockHeldBy } from '../database/lock.ts';
import { queryRows } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { ensureLedger, events, ledger, ledgerExists, type EventRow, type LedgerRow } from './ledger-schema.ts';
import { ledgerStatesBefore, walkStatesBefore, type LedgerState, type LedgerStatus, type WalkState } from './transitions.ts';

/** What a plan reads of each ledger row. */
export type PlanLedgerRow = Pick<LedgerRow, 'id' | 'number' | 'status' | 'checksum' | 'finishedAt'>;

/** An event as the store writes it: its time may be SQL (the server's clock, see atServerTime). */
export type EventInsert = PgInsertValue<typeof events>;

/** A new ledger row; its status is the move the store checks. */
export type NewLedgerRow = PgInsertValue<typeof ledger> & { id: string; status: LedgerStatus };

/** A batched snippet's checkpoint row: which version of the file its ranges belong to. */
export interface CheckpointState {
  /** The snippet file's sha256: batches of one version never mix with another's. */
  checksum: string;
  /** Changes committed before the walks were split into ranges (a v2 checkpoint), for the ledger row. */
  changes?: TableChanges;
}

/** A batched snippet's progress, readable from any process. */
export interface CheckpointProgress {
  rows: number;
  batches: number;
  updatedAt: Date;
}

export interface SnippetStore {
  /** Whether the `snippets` schema exists; reads of a database without one find nothing. */
  exists(): Promise<boolean>;
  /** Creates or upgrades the `snippets` schema. Call it while holding the repo's lock. */
  upgrade(): Promise<void>;

  ledger(): Promise<LedgerRow[]>;
  /** The ledger's rows as a plan needs them, in plain SQL: drizzle maps every column of every row, 80 ms on a thousand rows against 30. */
  planLedger(): Promise<PlanLedgerRow[]>;
  events(snippetId?: string): Promise<EventRow[]>;
  checkpoint(snippetId: string): Promise<CheckpointState | undefined>;
  checkpoints(): Promise<Map<string, CheckpointProgress>>;
  /** Batched snippets a runner holding the repo lock is walking, with a range still open: what another process may help with. */
  walksUnderWay(): Promise<{ id: string; checksum: string }[]>;

  /** Events alone: refusals, failures, locks, notifications. Their `seq` follows the list's order. */
  appendEvents(list: EventInsert[]): Promise<void>;
  /** A snippet's ledger row and its events: pending to applied or squashed. Call it in a transaction: a refusal writes nothing, but the row and events are two statements. */
  record(row: NewLedgerRow, rowEvents: EventInsert[]): Promise<void>;
  /** Many rows and their events (a baseline of a long history): pending to baselined, all or none. */
  recordMany(rows: NewLedgerRow[], rowEvents: EventInsert[]): Promise<void>;
  /** Applied to reverted, with the 'reverted' event; in a transaction, as `record`. */
  markReverted(snippetId: string, event: EventInsert): Promise<void>;
  /**
   * Starts or resumes a batched snippet's checkpoint for this version of its file and
   * names this connection its leader: helpers join only while the leader holds the repo
   * lock, so they never work for a run that is not under way.
   */
  leadCheckpoint(snippetId: string, checksum: string): Promise<void>;
  /** Every change its batches committed, over all ranges, plus any from a v2 checkpoint. */
  committedChanges(snippetId: string, state: CheckpointState): Promise<TableChanges>;
  /** Removes a finished walk's checkpoint and its ranges, in the transaction that writes its ledger row. */
  closeCheckpoint(snippetId: string): Promise<void>;
  /** The refusal of a move to `to` that the snippet's ledger state did not allow, read after the write failed (see atomic-writes.ts). */
  refusalOf(snippetId: string, to: LedgerStatus): Promise<SafetyRefusal>;
}

/** The store of `repo`'s records in the database `db` is (a connection or a transaction). */
export function snippetStore(db: SnippetDb, repo: string): SnippetStore {
  return new SqlSnippetStore(db, repo);
}

/**
 * Rows per INSERT when recording many at once: PostgreSQL's protocol takes at most 65,535
 * parameters per statement, one per column of each row.
 */
const ROWS_PER_INSERT = 1000;

function* chunks<T>(list: T[]): Generator<T[]> {
  for (let start = 0; start < list.length; start += ROWS_PER_INSERT) yield list.slice(start, start + ROWS_PER_INSERT);
}

const OPEN_RANGE = sql`exists (select 1 from snippets.ranges r where r.repo = c.repo and r.id = c.id and not r.done)`;

/** Which checkpoint rows (`c`) are in each progress state that has one. */
const CHECKPOINT_IN_STATE: Record<WalkState, SQL> = { none: sql`false`, idle: sql`not ${OPEN_RANGE}`, open: OPEN_RANGE };

/** A write the transition table does not have: the message names the snippet, where it stands and the move. */
function refusedMove(id: string, from: string, to: string): SafetyRefusal {
  return new SafetyRefusal(`${id}: the ledger has it ${from}, and a snippet that is ${from} cannot become ${to}; nothing was written`, 'transition', {
    subject: id,
  });
}

class SqlSnippetStore implements SnippetStore {
  constructor(
    private readonly db: SnippetDb,
    private readonly repo: string,
  ) {}

  exists(): Promise<boolean> {
    return ledgerExists(this.db);
  }

  upgrade(): Promise<void> {
    return ensureLedger(this.db);
  }

  async ledger(): Promise<LedgerRow[]> {
    if (!(await this.exists())) return [];
    return this.db.select().from(ledger).where(eq(ledger.repo, this.repo)).orderBy(asc(ledger.number));
  }

  async planLedger(): Promise<PlanLedgerRow[]> {
    if (!(await this.exists())) return [];
    const rows = await queryRows<{ id: string; number: number; status: LedgerStatus; checksum: string; finished_ms: number | null }>(
      this.db,
      // extract() is exact (numeric): whole milliseconds, truncated as a Date from text would be.
      sql`select id, number, status, checksum, floor(extract(epoch from finished_at) * 1000)::float8 as finished_ms
          from snippets.ledger where repo = ${this.repo} order by number`,
    );
    return rows.map(({ finished_ms, ...row }) => ({ ...row, finishedAt: finished_ms === null ? null : new Date(finished_ms) }));
  }

  async events(snippetId?: string): Promise<EventRow[]> {
    if (!(await this.exists())) return [];
    const filter = snippetId ? and(eq(events.repo, this.repo), eq(events.snippetId, snippetId)) : eq(events.repo, this.repo);
    return this.db.select().from(events).where(filter).orderBy(asc(events.seq));
  }

  async checkpoint(snippetId: string): Promise<CheckpointState | undefined> {
    const [row] = await queryRows<{ state: CheckpointState }>(this.db, sql`select state from snippets.checkpoints where repo = ${this.repo} and id = ${snippetId}`);
    return row?.state;
  }

  async checkpoints(): Promise<Map<string, CheckpointProgress>> {
    const [{ version } = { version: 0 }] = await queryRows<{ version: number }>(
      this.db,
      sql`select coalesce((select value::int from snippets.meta where key = 'schema_version'), 0) as version`,
    );
    // A ledger not yet upgraded to ranges (v3; status never upgrades it) keeps the totals on the checkpoint.
    const rows = await queryRows<{ id: string; rows: string; batches: string; updated_at: string | Date }>(
      this.db,
      version >= 3
        ? sql`select c.id, coalesce(sum(r.rows_done), 0) as rows, coalesce(sum(r.batches_done), 0) as batches, greatest(max(r.updated_at), c.updated_at) as updated_at
              from snippets.checkpoints c left join snippets.ranges r on r.repo = c.repo and r.id = c.id
              where c.repo = ${this.repo} group by c.id, c.updated_at`
        : sql`select id, rows_done as rows, batches_done as batches, updated_at from snippets.checkpoints where repo = ${this.repo}`,
    );
    return new Map(rows.map((r) => [r.id, { rows: Number(r.rows), batches: Number(r.batches), updatedAt: new Date(r.updated_at) }]));
  }

  async walksUnderWay(): Promise<{ id: string; checksum: string }[]> {
    const [{ ready } = { ready: false }] = await queryRows<{ ready: boolean }>(this.db, sql`select to_regclass('snippets.ranges') is not null as ready`);
    if (!ready) return [];
    // Only a run under way: its leader holds the repo lock (so it passed its plan's checks)
    // and a range is still open. An interrupted run is resumed by whoever gets the lock.
    return queryRows<{ id: string; checksum: string }>(
      this.db,
      sql`select c.id, c.state->>'checksum' as checksum from snippets.checkpoints c
          where c.repo = ${this.repo}
            and exists (select 1 from snippets.ranges r where r.repo = c.repo and r.id = c.id and not r.done)
            and ${repoLockHeldBy(this.repo, sql`(c.state->>'leader')::int`)}
          order by c.id`,
    );
  }

  async appendEvents(list: EventInsert[]): Promise<void> {
    for (const chunk of chunks(list)) await this.db.insert(events).values(chunk);
  }

  async record(row: NewLedgerRow, rowEvents: EventInsert[]): Promise<void> {
    this.checkInsert(row);
    const [inserted] = await this.db.insert(ledger).values(row).onConflictDoNothing().returning({ id: ledger.id });
    if (!inserted) throw await this.refusedInsert(row);
    await this.appendEvents(rowEvents);
  }

  async recordMany(rows: NewLedgerRow[], rowEvents: EventInsert[]): Promise<void> {
    rows.forEach((row) => this.checkInsert(row));
    await this.db.transaction(async (tx) => {
      const inTx = new SqlSnippetStore(tx, this.repo);
      for (const chunk of chunks(rows)) {
        const inserted = await tx.insert(ledger).values(chunk).onConflictDoNothing().returning({ id: ledger.id });
        if (inserted.length < chunk.length) {
          const done = new Set(inserted.map((r) => r.id));
          // Thrown inside the transaction: the rows before it roll back with it.
          throw await inTx.refusedInsert(chunk.find((r) => !done.has(r.id))!);
        }
      }
      await inTx.appendEvents(rowEvents);
    });
  }

  async markReverted(snippetId: string, event: EventInsert): Promise<void> {
    const from = ledgerStatesBefore('reverted');
    const [moved] = await this.db
      .update(ledger)
      .set({ status: 'reverted' })
      .where(and(eq(ledger.repo, this.repo), eq(ledger.id, snippetId), inArray(ledger.status, from as LedgerStatus[])))
      .returning({ id: ledger.id });
    if (!moved) throw refusedMove(snippetId, await this.stateOf(snippetId), 'reverted');
    await this.appendEvents([event]);
  }

  async leadCheckpoint(snippetId: string, checksum: string): Promise<void> {
    const state: CheckpointState = { checksum };
    // Another version's checkpoint is not this run's to lead: its batches would mix with this one's.
    const [led] = await queryRows<{ id: string }>(
      this.db,
      sql`insert into snippets.checkpoints (repo, id, state) values (${this.repo}, ${snippetId}, ${JSON.stringify(state)}::jsonb || jsonb_build_object('leader', pg_backend_pid()))
          on conflict (repo, id) do update set state = checkpoints.state || jsonb_build_object('leader', pg_backend_pid())
          where checkpoints.state->>'checksum' = ${checksum}
          returning id`,
    );
    if (!led) {
      throw new SafetyRefusal(`${snippetId}: its checkpoint belongs to another version of the file; nothing was written`, 'transition', { subject: snippetId });
    }
  }

  async committedChanges(snippetId: string, state: CheckpointState): Promise<TableChanges> {
    const rows = await queryRows<{ changes: TableChanges }>(
      this.db,
      sql`select changes from snippets.ranges where repo = ${this.repo} and id = ${snippetId} order by walk, range_no`,
    );
    return rows.reduce((sum, r) => addChanges(sum, r.changes), state.changes ?? {});
  }

  async closeCheckpoint(snippetId: string): Promise<void> {
    // Guarded in the statement by the states the table lets go to none: never with an open range.
    const allowed = walkStatesBefore('none').map((state) => CHECKPOINT_IN_STATE[state]);
    const [closed] = await queryRows<{ id: string }>(
      this.db,
      sql`delete from snippets.checkpoints c where c.repo = ${this.repo} and c.id = ${snippetId} and (${sql.join(allowed, sql` or `)})
          returning c.id`,
    );
    if (closed) return;
    const why = (await this.walkStateOf(snippetId)) === 'open' ? 'is mid-walk, with key ranges still open' : 'has no checkpoint: its walk never started';
    throw new SafetyRefusal(`${snippetId}: ${why}, so it cannot finish; nothing was written`, 'transition', { subject: snippetId });
  }

  /** Only moves from pending are inserts; the row's primary key is what refuses a second one. */
  private checkInsert(row: NewLedgerRow): void {
    if (!ledgerStatesBefore(row.status).includes('pending')) throw refusedMove(row.id, 'pending', row.status);
  }

  async refusalOf(snippetId: string, to: LedgerStatus): Promise<SafetyRefusal> {
    return refusedMove(snippetId, await this.stateOf(snippetId), to);
  }

  private refusedInsert(row: NewLedgerRow): Promise<SafetyRefusal> {
    return this.refusalOf(row.id, row.status);
  }

  private async stateOf(id: string): Promise<LedgerState> {
    const [row] = await queryRows<{ status: LedgerStatus }>(this.db, sql`select status from snippets.ledger where repo = ${this.repo} and id = ${id}`);
    return row?.status ?? 'pending';
  }

  private async walkStateOf(id: string): Promise<WalkState> {
    const [row] = await queryRows<{ open: boolean }>(
      this.db,
      sql`select ${OPEN_RANGE} as open from snippets.checkpoints c where c.repo = ${this.repo} and c.id = ${id}`,
    );
    return row ? (row.open ? 'open' : 'idle') : 'none';
  }
}
