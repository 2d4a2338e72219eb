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
  /** How many rows in hand hold each value, as of the last mask(). */
  private readonly counts = new Map<string, number>();
  /** Values a separator splits, which no token can match: looked for in the whole message. */
  private readonly spanning = new Set<string>();
  /** The rows in hand, the last IN_HAND read: row number `n` is at `n % IN_HAND`. */
  private readonly ring: Record<string, unknown>[] = [];
  /** The number the next row held gets. */
  private next = 0;
  /** Rows numbered below it are counted in `counts`, those still in hand. */
  private counted = 0;
  /** Counted rows that left the hand since, to take out of `counts`. */
  private readonly released: Record<string, unknown>[] = [];

  constructor(private readonly columns: readonly string[]) {}

  /**
   * Takes a row in hand, letting go of the oldest beyond IN_HAND. Only a reference is kept:
   * the values are counted when a message is masked, so reading rows costs next to nothing.
   */
  hold(row: Record<string, unknown>): void {
    if (!this.columns.length) return;
    const slot = this.next % IN_HAND;
    if (this.next >= IN_HAND && this.next - IN_HAND < this.counted) this.released.push(this.ring[slot]!);
    this.ring[slot] = row;
    this.next++;
  }

  private valuesOf(row: Record<string, unknown>): string[] {
    const values: string[] = [];
    for (const column of this.columns) {
      const value = row[column];
      if (value === null || value === undefined) continue;
      const text = String(value);
      if (text.length >= MIN_LENGTH) values.push(text);
    }
    return values;
  }

  /** Brings `counts` up to the rows in hand now. */
  private count(): void {
    for (const row of this.released.splice(0)) {
      for (const value of this.valuesOf(row)) {
        const left = (this.counts.get(value) ?? 1) - 1;
        if (left) this.counts.set(value, left);
        else {
          this.counts.delete(value);
          this.spanning.delete(value);
        }
      }
    }
    for (let n = Math.max(this.counted, this.next - IN_HAND); n < this.next; n++) {
      for (const value of this.valuesOf(this.ring[n % IN_HAND]!)) {
        this.counts.set(value, (this.counts.get(value) ?? 0) + 1);
        if (SEPARATORS.test(value)) this.spanning.add(value);
      }
    }
    this.counted = this.next;
  }

  mask(text: string): string {
    this.count();
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
