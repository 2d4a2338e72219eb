import { createColors } from 'picocolors';
import { colorEnabled } from './color-support.ts';

/** Colours on a terminal or when FORCE_COLOR asks, never in pipes, files or NO_COLOR shells (see colorEnabled). */
export const colors = createColors(colorEnabled(process.env, Boolean(process.stdout.isTTY)));

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
