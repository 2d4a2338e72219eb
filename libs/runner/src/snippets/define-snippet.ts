import type { SQL, SQLWrapper, sql } from 'drizzle-orm';
import type { DeleteSafelyOptions, ImpactReport } from './impact-report.ts';
import type { SnippetDb } from '../database/snippet-db.ts';
import type { ColumnInput, TableInput } from './table-names.ts';
import type { InputDeclarations, RowOf, SnippetInputs } from '../inputs/declare-input.ts';

export type { SnippetDb } from '../database/snippet-db.ts';

export interface SnippetLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface SnippetContext<Params extends Record<string, unknown> = Record<string, unknown>, Inputs extends InputDeclarations = InputDeclarations> {
  /** A drizzle instance bound to the snippet's transaction. */
  db: SnippetDb;
  /** drizzle's `sql` tag: values become bind parameters, never interpolated text. */
  sql: typeof sql;
  /** Runs a query and returns its rows, the same shape on PostgreSQL and PGlite. */
  rows<Row extends Record<string, unknown> = Record<string, unknown>>(query: SQL): Promise<Row[]>;
  log: SnippetLogger;
  /** The reviewed constants declared in the snippet's `params`. */
  params: Params;
  /**
   * The snippet's declared inputs, each read from the run's local copy, whose digest matched
   * snippets.lock and whose every row was validated before `up` began.
   */
  inputs: SnippetInputs<Inputs>;
  snippet: { repo: string; id: string };
  /** True under `snippets run --dry-run`: the work is rolled back afterwards. */
  dryRun: boolean;
  /**
   * Visits the rows of a table by key, a batch per transaction, each committed with its
   * checkpoint: a killed run resumes after the last finished batch. The key space is split
   * into ranges that `--workers` and helper processes claim, so batches may run in
   * parallel and out of key order. Only in snippets with `transaction: 'batched'`.
   */
  batch(spec: BatchSpec): Promise<BatchResult>;
  /**
   * Visits the rows of a declared input in batches, each committed with the input's row
   * offset: a killed run resumes after the last finished batch and never applies a row twice.
   */
  batch<Name extends keyof Inputs & string>(spec: InputBatchSpec<Name, RowOf<Inputs[Name]>>): Promise<BatchResult>;
  /**
   * What `delete from table where ...` would delete, null or be blocked by, per table, through
   * foreign keys. `table` is a drizzle table or a name as in SQL (`'"User"'` for a mixed-case one).
   */
  impact(table: TableInput, where: SQL): Promise<ImpactReport>;
  /** Deletes only if the cascade stays within the root table and `allowCascadeTo`; returns the impact. */
  deleteSafely(table: TableInput, where: SQL, options?: DeleteSafelyOptions): Promise<ImpactReport>;
}

/** A key value of the batched table: numbers for int4 keys, strings for int8, text or uuid. */
export type BatchKey = number | string;

export interface BatchWork {
  /** The batch's transaction. */
  db: SnippetDb;
  sql: typeof sql;
  rows<Row extends Record<string, unknown> = Record<string, unknown>>(query: SQL): Promise<Row[]>;
  /** How many rows `where` selects in this batch: the keys in (from, to]. */
  count: number;
  /** The batch's lower bound, exclusive: the key before it, null at the start of the table. */
  from: BatchKey | null;
  /** The last key of this batch, inclusive. */
  to: BatchKey;
  /**
   * `column > from and column <= to`, without the lower bound in a range's first batch: the
   * batch's rows for any key type (`t.id > ${from ?? 0}` fails on a uuid or text key).
   * `column` is the walk's key, e.g. `users.id` or sql`t.id`.
   */
  inBatch(column: SQLWrapper): SQL;
}

export interface BatchSpec {
  /** The table to walk: a drizzle table, or a name as in SQL (`trades`, `billing.trades`, `'"User"'`). */
  table: TableInput;
  /** A unique, ordered key column: a drizzle column of `table` or its exact name. Integer, text or uuid. Default `id`. */
  key?: ColumnInput;
  /** Which rows to visit; checked again for each batch. Default every row. */
  where?: SQL;
  /** The checkpoint's name, when one snippet walks several tables. Default the table as given (`schema.name` for a drizzle table). */
  name?: string;
  /** Rows in the first batch. Default 1000. */
  size?: number;
  /** The batch duration the size adapts to. Default 200 ms. */
  targetMs?: number;
  /** The largest batch the adaptation may reach. Default 100000. */
  maxSize?: number;
  /** A pause between batches, to leave room for the service. Default 0. */
  pauseMs?: number;
  /** Retries of a batch that hit a lock or statement timeout, each with half the size and a growing pause. Default 5. */
  maxRetries?: number;
  /** Checked before each batch (e.g. replication lag); work pauses while it fails. */
  healthCheck?: () => Promise<boolean | { ok: boolean; message?: string }>;
  process(batch: BatchWork): Promise<void>;
}

/** How a batch of an input walk is tuned: as a table walk's. */
export type BatchTuning = Pick<BatchSpec, 'size' | 'targetMs' | 'maxSize' | 'pauseMs' | 'maxRetries' | 'healthCheck'>;

export interface InputBatchWork<Row> {
  /** The batch's transaction. */
  db: SnippetDb;
  sql: typeof sql;
  rows<R extends Record<string, unknown> = Record<string, unknown>>(query: SQL): Promise<R[]>;
  /** The batch's rows of the input, in file order, validated. */
  records: Row[];
  /** The row number of `records[0]` in the input, from 1 (a CSV header is not counted). */
  firstRow: number;
  /** `records.length`. */
  count: number;
}

export interface InputBatchSpec<Name extends string = string, Row = Record<string, unknown>> extends BatchTuning {
  /** The declared input to walk. */
  input: Name;
  /** The checkpoint's name. Default `input:` and the input's name. */
  name?: string;
  process(batch: InputBatchWork<Row>): Promise<void>;
}

export interface BatchResult {
  rows: number;
  batches: number;
}

/** What `verify` may return: nothing or `true` means the post-check passed. */
export type VerifyOutcome = void | boolean | { ok: boolean; message?: string };

export interface SnippetDefinition<Params extends Record<string, unknown> = Record<string, unknown>, Inputs extends InputDeclarations = InputDeclarations> {
  /** One line for the plan, the ledger and the reviewer. */
  description: string;
  /** Snippet ids that must be applied first. */
  dependsOn?: string[];
  /** Service schema state the snippet needs, checked against the service's drizzle migrations table. */
  requires?: { migrations?: string[] };
  /**
   * Tables the snippet may change; changing any other fails the run. Each a drizzle table
   * (`users`) or a name as in SQL: `trades`, `billing.trades`, and a mixed-case table quoted,
   * `'"User"'` (unquoted names fold to lower case).
   */
  touches: TableInput[];
  /** `atomic`: all of up and verify and the ledger row commit together. */
  transaction?: 'atomic' | 'batched';
  params?: Params;
  /**
   * External data the snippet reads, which must not enter git: each a format and its row
   * columns (`csv({ columns: { account_id: 'uuid' } })`), pinned in snippets.lock by digest
   * and given per run (`--input accounts=s3://…`).
   */
  inputs?: Inputs;
  up(context: SnippetContext<Params, Inputs>): Promise<void>;
  /** Post-check run in the same transaction after `up`; throw or return `{ ok: false }` to roll back. */
  verify?(context: SnippetContext<Params, Inputs>): Promise<VerifyOutcome>;
  /** Optional undo, run only by `snippets revert ID --reason`. */
  down?(context: SnippetContext<Params, Inputs>): Promise<void>;
}

const SNIPPET_BRAND = Symbol.for('@snippets/runner.snippet');

export type Snippet<Params extends Record<string, unknown> = Record<string, unknown>, Inputs extends InputDeclarations = InputDeclarations> =
  SnippetDefinition<Params, Inputs> & { readonly [SNIPPET_BRAND]: true };

/**
 * Declares a snippet: the module's default export. The runner validates the fields when it
 * loads the file, so a mistake is reported with the file's name.
 */
export function defineSnippet<Params extends Record<string, unknown> = Record<string, unknown>, Inputs extends InputDeclarations = Record<never, never>>(
  definition: SnippetDefinition<Params, Inputs>,
): Snippet<Params, Inputs> {
  return Object.freeze({ ...definition, [SNIPPET_BRAND]: true as const });
}

/** The brand is a registered symbol, so it survives the module being loaded twice. */
export function isSnippet(value: unknown): value is Snippet {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SNIPPET_BRAND] === true;
}

/** One snippet a squash folds: its id and the checksum production applied. */
export interface SquashedSnippet {
  id: string;
  checksum: string;
}

export interface SquashDefinition {
  description: string;
  /** The snippets this file replaces, moved to `snippets/archive/`; all were applied in production. */
  replaces: SquashedSnippet[];
}

const SQUASH_BRAND = Symbol.for('@snippets/runner.squash');

export type Squash = SquashDefinition & { readonly [SQUASH_BRAND]: true };

/**
 * Declares a squash, written by `nx g squash`: it stands for the snippets it replaces. It
 * counts as applied where they all are, and a fresh database records it without running
 * anything.
 */
export function defineSquash(definition: SquashDefinition): Squash {
  return Object.freeze({ ...definition, [SQUASH_BRAND]: true as const });
}

export function isSquash(value: unknown): value is Squash {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SQUASH_BRAND] === true;
}
