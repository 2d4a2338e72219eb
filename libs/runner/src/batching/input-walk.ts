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
import { readRows } from '../inputs/input-scan.ts';
import type { PreparedInput, PreparedInputs } from '../inputs/snippet-inputs.ts';
import type { InputBatchSpec } from '../snippets/define-snippet.ts';
import type { KeyRange } from '../store/walk-ranges.ts';
import type { Walk } from './batching.ts';

const ROWS_PER_RANGE = 2_000;
const MAX_RANGES = 64;

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
    async step(_tx, from, hi, size) {
      const first = Number(from ?? 0);
      const last = Math.min(first + size, Number(hi));
      const records: Record<string, unknown>[] = [];
      for await (const row of readRows(input, input.index, first, last)) {
        input.inHand.hold(row);
        records.push(row);
      }
      if (records.length) await spec.process({ db: _tx, sql, rows: (query) => queryRows(_tx, query), records, firstRow: first + 1, count: records.length });
      return { count: records.length, last: records.length ? last : null, done: last >= Number(hi) };
    },
  };
}
