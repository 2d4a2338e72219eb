/** Bounds and goal of a walk's batch size. */
export interface BatchSizeOptions {
  /** Rows in the first batch. */
  initial: number;
  min: number;
  max: number;
  /** The batch duration the size adapts to. */
  targetMs: number;
}

interface Sample {
  rows: number;
  ms: number;
}

/** Batches the cost model is fitted on: enough to see a halving, few enough to follow a change. */
const SAMPLES = 8;

/**
 * A worker's batch size, adapting toward `targetMs` in proportion (at most halving or
 * doubling at a time), with one limit: it never shrinks below the size where a batch's
 * fixed cost (round trips, a service call per batch) is half its time. Below that, halving
 * a batch barely shortens it and only multiplies the batches, which is how 30,000 rows
 * behind a fixed ~200 ms call once took 2,861 batches of 10.
 *
 * The fixed and per-row costs are fitted (least squares, time = fixed + perRow × rows) on
 * the recent batches once their sizes span a factor of two, as the first halving makes them.
 */
export class BatchSizer {
  #size: number;
  /** The smallest size worth shrinking to, once the costs are known. */
  #floor: number;
  readonly #samples: Sample[] = [];
  readonly #options: BatchSizeOptions;

  constructor(options: BatchSizeOptions) {
    this.#options = options;
    this.#size = this.#clamp(options.initial);
    this.#floor = options.min;
  }

  /** Rows to ask for in the next batch. */
  get size(): number {
    return this.#size;
  }

  /** After a committed batch of `rows` rows that took `ms`; `full` when it had as many rows as asked. */
  observe(rows: number, ms: number, full: boolean): void {
    if (rows > 0) {
      this.#samples.push({ rows, ms });
      if (this.#samples.length > SAMPLES) this.#samples.shift();
    }
    const costs = fitCosts(this.#samples);
    // perRow <= 0: the time does not grow with the size at all, so no size is too big to pay for the fixed part.
    if (costs) this.#floor = costs.perRow > 0 ? Math.max(this.#options.min, costs.fixed / costs.perRow) : this.#options.max;
    // Shrink after a slow batch; grow only after a full one that was fast.
    if (ms <= this.#options.targetMs && !full) return;
    const { targetMs } = this.#options;
    let next = this.#size * Math.min(2, Math.max(0.5, targetMs / Math.max(ms, 1)));
    // Shrinking below the floor would not shorten the batch: go back up toward the floor instead.
    if (next < this.#size && next < this.#floor) next = Math.min(this.#size * 2, Math.max(this.#size, this.#floor));
    this.#size = this.#clamp(next);
  }

  /** After a lock or statement timeout: half the size, whatever the costs, since this size could not finish. */
  halve(): number {
    this.#size = this.#clamp(Math.floor(this.#size / 2));
    this.#floor = Math.min(this.#floor, this.#size);
    return this.#size;
  }

  #clamp(size: number): number {
    return Math.min(this.#options.max, Math.max(this.#options.min, Math.round(size)));
  }
}

/**
 * The fixed and per-row cost of a batch, fitted on `samples` by least squares; undefined
 * until their sizes span a factor of two, since a fit over nearly equal sizes is all noise.
 */
export function fitCosts(samples: readonly Sample[]): { fixed: number; perRow: number } | undefined {
  if (samples.length < 2) return undefined;
  const sizes = samples.map((s) => s.rows);
  if (Math.max(...sizes) < 2 * Math.min(...sizes)) return undefined;
  const n = samples.length;
  const meanRows = samples.reduce((sum, s) => sum + s.rows, 0) / n;
  const meanMs = samples.reduce((sum, s) => sum + s.ms, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    covariance += (s.rows - meanRows) * (s.ms - meanMs);
    variance += (s.rows - meanRows) ** 2;
  }
  const perRow = covariance / variance;
  return { fixed: Math.max(0, meanMs - perRow * meanRows), perRow };
}
