import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { median } from './process.ts';

/**
 * The same fixed CPU work the runner's start-up does most of (parsing JSON, hashing source
 * text, building small objects), timed in this process. Read beside a report's absolute
 * figures: on a shared machine whose speed drifts, 0.4 s means one thing when this takes
 * 100 ms and another when it takes 200 ms.
 */
function workload(): void {
  const rows = Array.from({ length: 5000 }, (_, i) => ({ id: `${String(i).padStart(4, '0')}_record_unit`, number: i, status: 'applied' }));
  const source = 'export default defineSnippet({ up() {} });\n'.repeat(20);
  for (let round = 0; round < 10; round++) {
    const parsed = JSON.parse(JSON.stringify(rows)) as typeof rows;
    for (const row of parsed) createHash('sha256').update(source).update(row.id).digest('hex');
  }
}

/** Median milliseconds of five rounds of the fixed workload, after one unmeasured round. */
export function cpuCalibrationMs(): number {
  workload();
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    workload();
    times.push(performance.now() - start);
  }
  return median(times);
}
