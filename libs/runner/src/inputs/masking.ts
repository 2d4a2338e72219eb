/**
 * Masks the values of an input's sensitive columns in what a snippet writes to its log or
 * fails with. The scope is the rows in hand: a batch's records while it runs, or the last
 * IN_HAND rows an iteration read (a 5M-row input cannot be held in memory to mask them
 * all). Values shorter than MIN_LENGTH stay, or every digit in a message would be masked.
 */

const IN_HAND = 10_000;
const MIN_LENGTH = 3;
export const MASK = '‹masked›';
/** How a message splits into the tokens looked up in the values in hand. */
const SEPARATORS = /[\s,;:()[\]{}<>"'=|/\\]+/;

export class SensitiveValues {
  /** How many rows in hand hold each value. */
  private readonly counts = new Map<string, number>();
  /** The values of each row in hand, oldest first, to let go of as new ones come. */
  private readonly rows: string[][] = [];
  /** Values a separator splits, which no token can match: looked for in the whole message. */
  private readonly spanning = new Set<string>();

  constructor(private readonly columns: readonly string[]) {}

  /** Takes a row's sensitive values in hand, letting go of the oldest row beyond IN_HAND. */
  hold(row: Record<string, unknown>): void {
    if (!this.columns.length) return;
    const values: string[] = [];
    for (const column of this.columns) {
      const value = row[column];
      if (value === null || value === undefined) continue;
      const text = String(value);
      if (text.length < MIN_LENGTH) continue;
      values.push(text);
      this.counts.set(text, (this.counts.get(text) ?? 0) + 1);
      if (SEPARATORS.test(text)) this.spanning.add(text);
    }
    this.rows.push(values);
    if (this.rows.length > IN_HAND) this.release(this.rows.shift()!);
  }

  /** Lets go of every row in hand: a batch's records, once it has committed or failed. */
  clear(): void {
    this.counts.clear();
    this.rows.length = 0;
    this.spanning.clear();
  }

  private release(values: string[]): void {
    for (const value of values) {
      const left = (this.counts.get(value) ?? 1) - 1;
      if (left) this.counts.set(value, left);
      else {
        this.counts.delete(value);
        this.spanning.delete(value);
      }
    }
  }

  mask(text: string): string {
    if (!this.counts.size) return text;
    let masked = text;
    for (const value of this.spanning) if (masked.includes(value)) masked = masked.split(value).join(MASK);
    const tokens = new Set(masked.split(SEPARATORS));
    for (const token of tokens) if (this.counts.has(token)) masked = masked.split(token).join(MASK);
    return masked;
  }
}

/** The masks of several inputs as one. */
export function maskAll(masks: readonly SensitiveValues[]): (text: string) => string {
  return (text) => masks.reduce((masked, values) => values.mask(masked), text);
}
