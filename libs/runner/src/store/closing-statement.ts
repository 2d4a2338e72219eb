import type { AuditContext } from '../audit.ts';
import type { OutboundConnection } from '../database/connection-guard.ts';
import { COUNTED_TABLES, type TableChanges } from '../checks/change-counts.ts';
import { sha256 } from '../checksum.ts';
import { queryPrepared, type Statement } from '../database/queries.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import { FINGERPRINT_SQL } from '../checks/schema-fingerprint.ts';
import { serverTimeParam } from '../database/server-clock.ts';
import type { InputDigest } from '../snippets/manifest.ts';

/** What `snippets.refuse` raises (ledger schema v5): a check refused the transaction. */
const REFUSED = 'SNP01';

/**
 * The schema check's function, named after the fingerprint query it embeds: the query is
 * written once (schema-fingerprint.ts), and a runner whose query differs finds no function
 * by its name and installs one (see ensureLedger), so the SQL check and the TypeScript one
 * cannot disagree, and runners of two versions can share a database.
 */
export const CHECK_SCHEMA_FUNCTION = `snippets.check_schema_${sha256(FINGERPRINT_SQL).slice(0, 12)}`;

/**
 * The checks that end an atomic snippet's transaction, in SQL, from the change counts read
 * before its work ($1): only when it wrote to the catalogs, a schema whose fingerprint
 * differs from the run's baseline ($3, see fingerprintHash), then a change to a table not
 * in `touches` ($2) make `snippets.refuse` raise, which aborts the transaction. Being SQL,
 * they share one statement with the ledger row, which can be sent ahead of COMMIT without
 * waiting: when a check refuses, the statement fails and PostgreSQL answers the COMMIT
 * with a rollback. The fingerprint is read in a function (check_schema): in the statement,
 * its many catalog scans would be set up on every execution, costing more than the snippet.
 */
const CLOSING_CHECKS = `
  counts as (${COUNTED_TABLES}),
  before as (
    select key as rel, (value->>0)::bigint as ins, (value->>1)::bigint as upd, (value->>2)::bigint as del
    from jsonb_each($1::text::jsonb -> 'tables')),
  changes as (
    select c.rel, c.ins - coalesce(b.ins, 0) as inserted, c.upd - coalesce(b.upd, 0) as updated, c.del - coalesce(b.del, 0) as deleted
    from counts c left join before b using (rel)
    where c.schema <> 'pg_catalog'
      and (c.ins - coalesce(b.ins, 0) <> 0 or c.upd - coalesce(b.upd, 0) <> 0 or c.del - coalesce(b.del, 0) <> 0)),
  rows_changed as (
    select coalesce(jsonb_object_agg(rel, jsonb_build_object('inserted', inserted, 'updated', updated, 'deleted', deleted)), '{}') as value
    from changes),
  checked as (
    select case
        when (select coalesce(sum(ins + upd + del), 0) from counts where schema = 'pg_catalog') <> ($1::text::jsonb ->> 'catalog')::bigint
          then ${CHECK_SCHEMA_FUNCTION}($3)
        else true
      end
      and case
        when exists (select 1 from changes where rel not in (select jsonb_array_elements_text($2::text::jsonb)))
          then snippets.refuse('touches', (select value from rows_changed)::text)
        else true
      end as ok)`;

/** Under a dry run: the checks and the rows changed, no ledger row. */
const CHECK_ONLY = `with ${CLOSING_CHECKS}
  select r.value as rows_changed from rows_changed r, checked where checked.ok`;

/**
 * The checks, the ledger row and its events ('started' if $17 is true, then 'applied'), in
 * order. The snippet started at $15, the server's clock read by its transaction's setup;
 * it finishes at clock_timestamp() read here, once (a CTE with a volatile function is
 * evaluated once), so the row, its events and its duration agree to the microsecond.
 */
const CHECK_AND_RECORD = `with ${CLOSING_CHECKS},
  clock as (select ${serverTimeParam(15)} as started_at, clock_timestamp() as finished_at),
  recorded as (
    insert into snippets.ledger (repo, id, number, checksum, status, description, git_sha, image, approved_by, executed_by, host, ci_run_url,
                                 started_at, finished_at, duration_ms, rows_changed, verify_result, service_package, service_version)
    select $4, $5, $6::int, $7, 'applied', $8, $9, $10, $11, $12, $13, $14,
           c.started_at, c.finished_at, round(extract(epoch from c.finished_at - c.started_at) * 1000)::int, r.value, $16::text::jsonb, $18, $19
    from rows_changed r, checked, clock c where checked.ok
    returning rows_changed, started_at, finished_at, duration_ms)
  insert into snippets.events (at, repo, snippet_id, kind, checksum, executed_by, host, git_sha, image, approved_by, ci_run_url, service_package, service_version, detail)
  select case when e.kind = 'started' then recorded.started_at else recorded.finished_at end, $4, $5, e.kind, $7, $12, $13, $9, $10, $11, $14, $18, $19,
         case when e.kind = 'applied' then jsonb_build_object('durationMs', recorded.duration_ms, 'rowsChanged', recorded.rows_changed, 'verify', $16::text::jsonb)
                                           || coalesce($20::text::jsonb, '{}') end
  from recorded, (values (1, 'started'), (2, 'applied')) e(ord, kind)
  where $17::boolean or e.kind = 'applied'
  order by e.ord
  returning kind, detail->'rowsChanged' as rows_changed, (detail->>'durationMs')::int as duration_ms`;

export interface ClosingInput {
  /** The change counts (see CHANGE_COUNTS) read before the work, as the server's JSON text. */
  before: string;
  /** Qualified names of the tables the snippet declares in `touches`. */
  touches: string[];
  schemaHash: string;
}

export interface AppliedRecord {
  repo: string;
  id: string;
  number: number;
  checksum: string;
  description: string | undefined;
  audit: AuditContext;
  /** The server's clock when the snippet's transaction began its work, in microseconds since the epoch (see ServerTime). */
  startedMicros: number;
  verify: { ok: boolean; message?: string } | null;
  /** Where the snippet's code connected besides its db, recorded in the 'applied' event. */
  outbound?: OutboundConnection[];
  /** The digests of the inputs the snippet read, by name, recorded in the 'applied' event. */
  inputs?: Record<string, InputDigest>;
  /** Whether the run's 'started' event for this snippet commits with the row, at startedMicros. */
  withStartedEvent: boolean;
}

/** What the closing statement recorded: the rows changed and the duration the server measured. */
export interface Recorded {
  rowsChanged: TableChanges;
  durationMs: number;
}

/** jsonb orders keys by length; the runner reports tables by name. */
const byTable = (changes: TableChanges): TableChanges => Object.fromEntries(Object.entries(changes).sort(([a], [b]) => a.localeCompare(b)));

const checkParams = (input: ClosingInput) => [input.before, JSON.stringify(input.touches), input.schemaHash];

/** Sends the checks alone and returns the rows changed; fails with a refusal (see `readRefusal`). */
export async function checkClosing(tx: SnippetDb, input: ClosingInput): Promise<TableChanges> {
  const [row] = await queryPrepared<{ rows_changed: TableChanges }>(tx, { text: CHECK_ONLY, params: checkParams(input) });
  return byTable(row!.rows_changed);
}

/**
 * Sends the checks with the ledger row and events; the returned promise gives the rows
 * changed and the duration, or fails with a refusal. The statement is on its way when this returns, so
 * the caller can commit without waiting for it, then await it to learn the outcome.
 */
export function checkAndRecord(tx: SnippetDb, input: ClosingInput, row: AppliedRecord): Promise<Recorded> {
  const { audit } = row;
  const statement: Statement = {
    text: CHECK_AND_RECORD,
    params: [
      ...checkParams(input),
      row.repo,
      row.id,
      row.number,
      row.checksum,
      row.description ?? null,
      audit.gitSha,
      audit.image,
      audit.approvedBy,
      audit.executedBy,
      audit.host,
      audit.ciRunUrl,
      String(row.startedMicros),
      row.verify ? JSON.stringify(row.verify) : null,
      row.withStartedEvent,
      audit.servicePackage,
      audit.serviceVersion,
      appliedDetail(row),
    ],
  };
  return queryPrepared<{ kind: string; rows_changed: TableChanges | null; duration_ms: number | null }>(tx, statement).then((events) => {
    const applied = events.find((event) => event.kind === 'applied')!;
    return { rowsChanged: byTable(applied.rows_changed ?? {}), durationMs: applied.duration_ms ?? 0 };
  });
}

/** What the 'applied' event's detail carries beside the duration, the rows and the verify result; null when nothing. */
function appliedDetail(row: AppliedRecord): string | null {
  const { outbound, inputs } = row;
  return outbound || inputs ? JSON.stringify({ ...(outbound ? { outbound } : {}), ...(inputs ? { inputs } : {}) }) : null;
}

export type Refusal = { check: 'touches'; rowsChanged: TableChanges } | { check: 'schema'; fingerprint: string[] };

/** The check that refused, from the error `snippets.refuse` raised; undefined for any other error. */
export function readRefusal(error: unknown): Refusal | undefined {
  const { code, message, detail } = (error ?? {}) as { code?: string; message?: string; detail?: string };
  if (code !== REFUSED || detail === undefined) return undefined;
  if (message?.endsWith('touches')) return { check: 'touches', rowsChanged: JSON.parse(detail) as TableChanges };
  if (message?.endsWith('schema')) return { check: 'schema', fingerprint: JSON.parse(detail) as string[] };
  return undefined;
}

/** Raises the refusal the checks end with; created by ledger schema step v5. */
const REFUSE_FUNCTION = `create or replace function snippets.refuse(check_name text, detail text) returns boolean language plpgsql as $$
    begin
      raise exception using errcode = '${REFUSED}', message = 'a snippets check refused the transaction: ' || check_name, detail = detail;
    end $$`;

/** The schema check's function as this runner's fingerprint query makes it (see CHECK_SCHEMA_FUNCTION). */
export function checkSchemaFunction(name = CHECK_SCHEMA_FUNCTION): string {
  return `create or replace function ${name}(baseline_hash text) returns boolean language plpgsql as $$
    declare
      entries text[];
    begin
      select coalesce(array_agg(entry order by entry), '{}') into entries from (${FINGERPRINT_SQL}) fingerprint;
      if md5(array_to_string(entries, E'\n')) <> baseline_hash then
        perform snippets.refuse('schema', to_json(entries)::text);
      end if;
      return true;
    end $$`;
}

/**
 * Ledger schema step v5: the refusal, and the schema check under its first name, which
 * step v8 drops for the named one.
 */
export const CLOSING_FUNCTIONS = [REFUSE_FUNCTION, checkSchemaFunction('snippets.check_schema')];
