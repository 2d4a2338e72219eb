/**
 * A batched snippet's key ranges in `snippets.ranges`: a walk split into them, a range
 * claimed for one batch, its cursor moved as the batch commits. Each move of a range is
 * checked against RANGE_TRANSITIONS (transitions.ts) in the statement that makes it, so a
 * range that is done never moves again and a refused move writes nothing.
 */
import { sql, type SQL } from 'drizzle-orm';
import { addChanges, type TableChanges } from '../checks/change-counts.ts';
import { queryRows } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { SafetyRefusal } from '../errors.ts';
import type { BatchKey } from '../snippets/define-snippet.ts';
import { rangeStatesBefore, type RangeState } from './transitions.ts';

/**
 * A slice of a walk's key space, `(lo, hi]`; null is unbounded. Workers claim ranges, so
 * there are several per walk even for one worker: a worker that finishes early takes the
 * next free range, and a killed worker's range is picked up by the others.
 */
export interface KeyRange {
  lo: BatchKey | null;
  hi: BatchKey | null;
  /** About how many rows the range held when the walk started, for progress. */
  rows: number;
}

/** A walk's ranges together, as any process reads them. */
export interface WalkProgress {
  ranges: number;
  /** Ranges not done. */
  open: number;
  total: number;
  rows: number;
  batches: number;
}

/** A range a batch holds: its row stays locked until the batch's transaction ends. */
export interface ClaimedRange {
  walk: string;
  rangeNo: number;
  lo: BatchKey | null;
  hi: BatchKey | null;
  cursor: BatchKey | null;
  changes: TableChanges;
}

/** What one batch did to the range it claimed. */
export interface RangeStep {
  /** The last key the batch took; null when it found none, and the cursor stays. */
  last: BatchKey | null;
  rows: number;
  /** What the batch changed, added to the range's. */
  changes: TableChanges;
  /** The range has no keys left: this was its last batch. */
  done: boolean;
}

export interface WalkRanges {
  /**
   * The walk's ranges, split with `split` by the first worker to get here. Call it in a
   * transaction: it locks the checkpoint row until then, so workers that arrive together
   * split the walk once. Undefined when the checkpoint is gone: the run finished.
   */
  open(walk: string, split: () => Promise<KeyRange[]>): Promise<WalkProgress | undefined>;
  progress(walk: string): Promise<WalkProgress>;
  /** Locks an open range no other transaction holds, `preferred` first; undefined when none is free, which is no error. */
  claim(walk: string, preferred: number): Promise<ClaimedRange | undefined>;
  /** Moves a claimed range by one batch, in one statement; returns the walk's totals with it. */
  advance(range: ClaimedRange, step: RangeStep): Promise<Pick<WalkProgress, 'rows' | 'batches' | 'total'>>;
}

/** The ranges of `snippetId`'s walks in `repo`'s records; `db` is a connection or a transaction. */
export function walkRanges(db: SnippetDb, repo: string, snippetId: string): WalkRanges {
  return new SqlWalkRanges(db, repo, snippetId);
}

/** Which range rows (`r`) are in each state. */
const RANGE_IN_STATE: Record<RangeState, SQL> = { open: sql`not r.done`, done: sql`r.done` };

class SqlWalkRanges implements WalkRanges {
  constructor(
    private readonly db: SnippetDb,
    private readonly repo: string,
    private readonly snippetId: string,
  ) {}

  async open(walk: string, split: () => Promise<KeyRange[]>): Promise<WalkProgress | undefined> {
    // Workers that arrive together wait as long as the split takes (it has the statement timeout).
    await this.db.execute(sql`select set_config('lock_timeout', '0', true)`);
    const [checkpoint] = await queryRows(this.db, sql`select 1 from snippets.checkpoints where repo = ${this.repo} and id = ${this.snippetId} for update`);
    if (!checkpoint) return undefined;
    const progress = await this.progress(walk);
    if (progress.ranges) return progress;
    const ranges = await split();
    // One parameter for all of them; -> keeps an unbounded end as JSON null, as a cursor is.
    // A walk is split once: a second split would walk its keys twice.
    const inserted = await queryRows(
      this.db,
      sql`insert into snippets.ranges (repo, id, walk, range_no, lo, hi, rows_total)
          select ${this.repo}, ${this.snippetId}, ${walk}, v.n - 1, v.range->'lo', v.range->'hi', (v.range->>'rows')::bigint
          from jsonb_array_elements(${JSON.stringify(ranges)}::jsonb) with ordinality as v (range, n)
          where not exists (select 1 from snippets.ranges r where r.repo = ${this.repo} and r.id = ${this.snippetId} and r.walk = ${walk})
          returning range_no`,
    );
    if (inserted.length < ranges.length) {
      throw new SafetyRefusal(`${this.snippetId}: walk ${walk} is split into key ranges already; nothing was written`, 'transition', { subject: this.snippetId });
    }
    return this.progress(walk);
  }

  async progress(walk: string): Promise<WalkProgress> {
    const [row] = await queryRows<Record<keyof WalkProgress, string | number>>(
      this.db,
      sql`select count(*) as ranges, count(*) filter (where not done) as open, coalesce(sum(rows_total), 0) as total,
                 coalesce(sum(rows_done), 0) as rows, coalesce(sum(batches_done), 0) as batches
          from snippets.ranges where repo = ${this.repo} and id = ${this.snippetId} and walk = ${walk}`,
    );
    return { ranges: Number(row?.ranges), open: Number(row?.open), total: Number(row?.total), rows: Number(row?.rows), batches: Number(row?.batches) };
  }

  async claim(walk: string, preferred: number): Promise<ClaimedRange | undefined> {
    const [range] = await queryRows<{ range_no: number; lo: BatchKey | null; hi: BatchKey | null; cursor: BatchKey | null; changes: TableChanges }>(
      this.db,
      sql`select range_no, lo, hi, cursor, changes from snippets.ranges r
          where repo = ${this.repo} and id = ${this.snippetId} and walk = ${walk} and ${RANGE_IN_STATE.open}
          order by range_no = ${preferred} desc, range_no
          limit 1 for update skip locked`,
    );
    return range && { walk, rangeNo: range.range_no, lo: range.lo, hi: range.hi, cursor: range.cursor, changes: range.changes };
  }

  async advance(range: ClaimedRange, step: RangeStep): Promise<Pick<WalkProgress, 'rows' | 'batches' | 'total'>> {
    const to: RangeState = step.done ? 'done' : 'open';
    // Guarded by the states the table lets move to `to`: a range that is done stays as it is.
    const allowed = rangeStatesBefore(to).map((state) => RANGE_IN_STATE[state]);
    // The other ranges' sums come from the statement's snapshot, this range's from its new row.
    const others = (column: SQL) =>
      sql`(select coalesce(sum(${column}), 0) from snippets.ranges o where o.repo = r.repo and o.id = r.id and o.walk = r.walk and o.range_no <> r.range_no)`;
    const [moved] = await queryRows<{ rows: string; batches: string; total: string }>(
      this.db,
      sql`update snippets.ranges r
          set cursor = ${JSON.stringify(step.last ?? range.cursor)}::jsonb, rows_done = rows_done + ${step.rows}, batches_done = batches_done + ${step.rows ? 1 : 0},
              changes = ${JSON.stringify(addChanges(range.changes, step.changes))}::jsonb, done = ${step.done}, updated_at = clock_timestamp()
          where repo = ${this.repo} and id = ${this.snippetId} and walk = ${range.walk} and range_no = ${range.rangeNo} and (${sql.join(allowed, sql` or `)})
          returning r.rows_done + ${others(sql`o.rows_done`)} as rows, r.batches_done + ${others(sql`o.batches_done`)} as batches,
                    r.rows_total + ${others(sql`o.rows_total`)} as total`,
    );
    if (!moved) throw await this.refusedMove(range, to);
    return { rows: Number(moved.rows), batches: Number(moved.batches), total: Number(moved.total) };
  }

  /** A move the table does not have: the message names the snippet, the range, where it stands and the move. */
  private async refusedMove(range: ClaimedRange, to: RangeState): Promise<SafetyRefusal> {
    const [row] = await queryRows<{ done: boolean }>(
      this.db,
      sql`select done from snippets.ranges where repo = ${this.repo} and id = ${this.snippetId} and walk = ${range.walk} and range_no = ${range.rangeNo}`,
    );
    const which = `range ${range.rangeNo} of walk ${range.walk}`;
    const why = row ? `${which} is ${row.done ? 'done' : 'open'}, and a range that is ${row.done ? 'done' : 'open'} cannot become ${to}` : `${which} does not exist: its walk was closed`;
    return new SafetyRefusal(`${this.snippetId}: ${why}; nothing was written`, 'transition', { subject: this.snippetId });
  }
}
