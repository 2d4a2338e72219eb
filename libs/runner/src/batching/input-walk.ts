/**
 * batch({ input }): a walk over an input's rows instead of a table's keys. Its ranges are
 * spans of row numbers, `(lo, hi]`, and a range's cursor is the last row a committed batch
 * processed, so a killed run resumes after it and never applies a row twice. The walk's
 * name carries the input's digest: a run resuming over another file is refused.
 */
import { sql } from 'drizzle-orm';
import { queryRows } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { SafetyRefusal } from '../errors.ts';
import { readRowBatches } from '../inputs/input-scan.ts';
import type { PreparedInput, PreparedInputs } from '../inputs/snippet-inputs.ts';
import type { InputBatchSpec } from '../snippets/define-snippet.ts';
import type { KeyRange } from '../store/walk-ranges.ts';
import type { Walk } from './batching.ts';

const ROWS_PER_RANGE = 2_000;
const MAX_RANGES = 64;
/** Readers kept open between batches; beyond it the oldest is closed (workers hold one each). */
const OPEN_READERS = 16;

/** Rows read ahead in batches: what the last batch of the walk did not take waits in `rest`. */
interface RowReader {
  batches: AsyncGenerator<Record<string, unknown>[]>;
  rest: Record<string, unknown>[];
}

/** The next `count` rows of `reader`, fewer at the input's end. */
async function take(reader: RowReader, count: number): Promise<Record<string, unknown>[]> {
  const rows = reader.rest.splice(0, count);
  while (rows.length < count) {
    const next = await reader.batches.next();
    if (next.done) break;
    const wanted = count - rows.length;
    rows.push(...next.value.slice(0, wanted));
    reader.rest = next.value.slice(wanted);
  }
  return rows;
}

/**
 * Readers left where a batch stopped, by the row they go on from: the range's next batch
 * takes up there instead of seeking to the nearest noted offset and parsing its way to its
 * rows. A reader sits exactly at its row, so any batch starting there may take it, and one
 * left by a batch that rolled back is simply not asked for again.
 */
class OpenReaders {
  private readonly open = new Map<number, RowReader>();

  take(row: number): RowReader | undefined {
    const reader = this.open.get(row);
    this.open.delete(row);
    return reader;
  }

  async keep(row: number, reader: RowReader): Promise<void> {
    this.open.set(row, reader);
    if (this.open.size <= OPEN_READERS) return;
    const [oldest, stale] = this.open.entries().next().value!;
    this.open.delete(oldest);
    await stale.batches.return(undefined);
  }

  async closeAll(): Promise<void> {
    const readers = [...this.open.values()];
    this.open.clear();
    await Promise.all(readers.map((reader) => reader.batches.return(undefined)));
  }
}

/** Ranges of about equal rows over `rows`, as many as a table walk of that size gets. */
export function splitRows(rows: number): KeyRange[] {
  const count = Math.min(MAX_RANGES, Math.max(1, Math.ceil(rows / ROWS_PER_RANGE)));
  const per = Math.ceil(rows / count) || 0;
  return Array.from({ length: count }, (_, i) => ({ lo: i * per, hi: Math.min(rows, (i + 1) * per), rows: Math.max(0, Math.min(rows, (i + 1) * per) - i * per) }));
}

/** Refuses when a walk of this input under another digest already committed batches. */
async function refuseOtherVersions(tx: SnippetDb, repo: string, snippetId: string, base: string, name: string): Promise<void> {
  const [other] = await queryRows<{ walk: string }>(
    tx,
    sql`select walk from snippets.ranges where repo = ${repo} and id = ${snippetId} and walk like ${`${base}@%`} and walk <> ${name} and rows_done > 0 limit 1`,
  );
  if (other) {
    throw new SafetyRefusal(
      `${snippetId}: an interrupted run walked another file as ${base} (${other.walk}) and committed batches; check what they changed, then delete the snippet's row from snippets.checkpoints to start over; nothing was written`,
      'input-digest',
      { subject: snippetId },
    );
  }
}

export function inputWalk(spec: InputBatchSpec, inputs: PreparedInputs | undefined, where: { repo: string; snippetId: string }): Walk {
  const input: PreparedInput | undefined = inputs?.[spec.input];
  if (!input) {
    const declared = Object.keys(inputs ?? {});
    throw new Error(`batch(): the snippet declares no input '${spec.input}'${declared.length ? `; it declares ${declared.join(', ')}` : ''}`);
  }
  const base = spec.name ?? `input:${spec.input}`;
  const name = `${base}@${input.digest.sha256.slice(0, 12)}`;
  const readers = new OpenReaders();
  return {
    name,
    spec,
    startedAt: performance.now(),
    processed: 0,
    stopped: false,
    async split(tx) {
      await refuseOtherVersions(tx, where.repo, where.snippetId, base, name);
      return splitRows(input.digest.rows);
    },
    async step(tx, from, hi, size) {
      const first = Number(from ?? 0);
      const last = Math.min(first + size, Number(hi));
      const reader = readers.take(first) ?? { batches: readRowBatches(input, input.index, first), rest: [] };
      const records = await take(reader, last - first);
      for (const record of records) input.inHand.hold(record);
      if (last < Number(hi)) await readers.keep(last, reader);
      else await reader.batches.return(undefined);
      if (records.length) await spec.process({ db: tx, sql, rows: (query) => queryRows(tx, query), records, firstRow: first + 1, count: records.length });
      return { count: records.length, last: records.length ? last : null, done: last >= Number(hi) };
    },
    close: () => readers.closeAll(),
  };
}
