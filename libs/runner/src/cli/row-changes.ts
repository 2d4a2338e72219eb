// The one-line summary of the rows a snippet changed, per table.
import type { TableChanges } from '../checks/change-counts.ts';

export function formatChanges(changes: TableChanges): string {
  const parts = Object.entries(changes).map(([t, c]) =>
    [c.inserted && `+${c.inserted}`, c.updated && `~${c.updated}`, c.deleted && `-${c.deleted}`]
      .filter(Boolean)
      .map((n) => `${t.replace(/^public\./, '')} ${n}`)
      .join(', '),
  );
  return parts.join(', ') || 'no rows changed';
}
