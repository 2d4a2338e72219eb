import { sql } from 'drizzle-orm';
import { describeCause, InputError } from '../errors.ts';
import { withRollback } from '../execution/executor.ts';
import { analyseTable } from '../impact/impact.ts';
import type { ImpactReport } from '../snippets/impact-report.ts';
import { isStatementFault } from '../database/pg-errors.ts';
import { parseTableName } from '../snippets/table-names.ts';
import { openRepo, withDatabase, type SessionInput } from '../repo.ts';

/**
 * `snippets impact --table T --where SQL`: the cascade of a delete, computed in a
 * read-only transaction that is rolled back, so the `--where` text can never write.
 */
export async function impact(input: SessionInput, table: string, where: string): Promise<ImpactReport> {
  const root = parseTableName(table, '--table');
  if (!where.trim()) throw new InputError("--where is empty; pass the delete's condition, e.g. --where \"id = 42\"", { subject: '--where' });
  const session = await openRepo(input);
  return withDatabase(session.target, ({ db }) =>
    withRollback(db, async (tx) => {
      await tx.execute(sql`set transaction isolation level repeatable read, read only`);
      await tx.execute(sql`select set_config('statement_timeout', ${`${session.config.timeouts.statementMs}ms`}, true)`);
      // A table that does not exist is answered there, with the one it may mean.
      return analyseTable(tx, root, sql.raw(where), { subject: '--table', spelled: table }).catch((error: unknown) => {
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
