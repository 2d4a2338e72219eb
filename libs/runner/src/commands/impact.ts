import { sql } from 'drizzle-orm';
import { queryRows } from '../database.ts';
import { describeCause, InputError } from '../errors.ts';
import { withRollback } from '../executor.ts';
import { analyseImpact, type ImpactReport } from '../impact.ts';
import { isStatementFault } from '../pg-errors.ts';
import { qualifyTable } from '../table-names.ts';
import { openRepo, withDatabase, type SessionInput } from '../repo.ts';

/**
 * `snippets impact --table T --where SQL`: the cascade of a delete, computed in a
 * read-only transaction that is rolled back, so the `--where` text can never write.
 */
export async function impact(input: SessionInput, table: string, where: string): Promise<ImpactReport> {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
    throw new InputError(`--table '${table}' is not a table name; pass e.g. --table trades or --table billing.trades`, { subject: '--table' });
  }
  if (!where.trim()) throw new InputError("--where is empty; pass the delete's condition, e.g. --where \"id = 42\"", { subject: '--where' });
  const session = await openRepo(input);
  return withDatabase(session.target, ({ db }) =>
    withRollback(db, async (tx) => {
      await tx.execute(sql`set transaction isolation level repeatable read, read only`);
      await tx.execute(sql`select set_config('statement_timeout', ${`${session.config.timeouts.statementMs}ms`}, true)`);
      const [exists] = await queryRows<{ exists: boolean }>(tx, sql`select to_regclass(${qualifyTable(table)}) is not null as exists`);
      if (!exists?.exists) throw new InputError(`--table '${table}' does not exist in this database`, { subject: '--table' });
      return analyseImpact(tx, table, sql.raw(where)).catch((error: unknown) => {
        // The --where text is the user's: the server rejecting it is bad input, not a crash.
        if (!isStatementFault(error)) throw error;
        const shown = where.replace(/\s+/g, ' ').trim();
        throw new InputError(`--where '${shown}' was rejected by the database: ${describeCause(error)}; pass one read-only condition on ${table}'s columns, e.g. --where "id = 42"`, {
          subject: '--where',
          cause: error,
        });
      });
    }),
  );
}
