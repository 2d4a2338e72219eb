import { describe, expect, it } from 'vitest';
import { BatchSizer, fitCosts } from '../src/batching/batch-size.ts';

/** Walks `rows` rows with a batch time of `cost(size)`, as workRanges does; returns the sizes asked for. */
function walk(sizer: BatchSizer, rows: number, cost: (size: number) => number): number[] {
  const sizes: number[] = [];
  for (let left = rows; left > 0; ) {
    const asked = sizer.size;
    const got = Math.min(asked, left);
    sizes.push(asked);
    sizer.observe(got, cost(got), got === asked);
    left -= got;
  }
  return sizes;
}

describe('BatchSizer', () => {
  it('converges toward targetMs when the cost is per row', () => {
    const sizer = new BatchSizer({ initial: 1000, min: 10, max: 100_000, targetMs: 200 });
    const sizes = walk(sizer, 50_000, (size) => 2 + size * 0.5);
    // 0.5 ms a row and 2 ms a batch: 396 rows take 200 ms.
    expect(sizes.at(-2)).toBeGreaterThan(350);
    expect(sizes.at(-2)).toBeLessThan(450);
  });

  it('stops shrinking when a fixed cost per batch makes every batch slow', () => {
    const sizer = new BatchSizer({ initial: 100, min: 10, max: 100_000, targetMs: 150 });
    // A service call of 200 ms per batch whatever its size, and 0.01 ms a row: no batch meets the target.
    const sizes = walk(sizer, 30_000, (size) => 200 + size * 0.01);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(40);
    expect(sizes.length).toBeLessThan(40);
  });

  it('grows when a batch takes the same time whatever its size', () => {
    const sizer = new BatchSizer({ initial: 1000, min: 10, max: 100_000, targetMs: 20 });
    const sizes = walk(sizer, 30_000, () => 25);
    expect(sizes.length).toBeLessThan(20);
  });

  it('halves after a timeout, below the floor too', () => {
    const sizer = new BatchSizer({ initial: 1000, min: 10, max: 1000, targetMs: 200 });
    walk(sizer, 5000, () => 250);
    const before = sizer.size;
    expect(sizer.halve()).toBe(Math.floor(before / 2));
    expect(sizer.halve()).toBe(Math.floor(Math.floor(before / 2) / 2));
  });

  it('fits fixed and per-row costs only once the sizes span a factor of two', () => {
    expect(fitCosts([{ rows: 100, ms: 30 }, { rows: 150, ms: 35 }])).toBeUndefined();
    const costs = fitCosts([{ rows: 100, ms: 30 }, { rows: 200, ms: 40 }, { rows: 400, ms: 60 }])!;
    expect(costs.fixed).toBeCloseTo(20);
    expect(costs.perRow).toBeCloseTo(0.1);
  });
});
