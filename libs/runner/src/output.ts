import { createColors } from 'picocolors';

/** Colours only on a terminal (or when FORCE_COLOR asks), never in pipes, files or NO_COLOR shells. */
export const colors = createColors(
  Boolean(process.env.FORCE_COLOR) || (Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'),
);

/** Aligns rows into columns for the terminal; the first row is the header. */
export function table(rows: string[][]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => visible(row[column] ?? ''))));
  return rows
    .map((row, index) => {
      const line = row.map((cell, column) => cell + ' '.repeat(widths[column]! - visible(cell))).join('  ').trimEnd();
      return index === 0 ? colors.bold(line) : line;
    })
    .join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
