/**
 * What became of a snippet the run stopped at: one transaction rolls back, a batched one
 * keeps its finished batches. A module of its own: the CLI's run output needs it at every
 * start-up, and run-report.ts, loaded only for --report-dir, loads junit-report-builder
 * (some 150 ms of CPU).
 */
export function undoneBy(batched: boolean | undefined): string {
  return batched ? 'finished batches kept' : 'rolled back';
}
