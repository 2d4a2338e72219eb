import type { TableChanges } from './change-counts.ts';

/**
 * The touches rule: the tables a transaction changed that its snippet does not declare,
 * sorted. An atomic snippet's closing statement applies the same rule in SQL (a changed
 * table not in the list refuses it); test/closing-rules.test.ts holds the two to the same
 * answers.
 */
export function undeclaredTables(rowsChanged: TableChanges, touches: readonly string[]): string[] {
  const allowed = new Set(touches);
  return Object.keys(rowsChanged)
    .filter((table) => !allowed.has(table))
    .sort();
}
