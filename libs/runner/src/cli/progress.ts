import { createRequire } from 'node:module';
import type { SingleBar } from 'cli-progress';
import type { BatchProgress } from '../batching/batching.ts';

const LOG_EVERY_MS = 5_000;

function eta(progress: BatchProgress): string {
  const left = Math.max(0, progress.total - progress.rows);
  if (!progress.rowsPerSecond) return '?';
  const seconds = Math.round(left / progress.rowsPerSecond);
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

/**
 * Shows a batched snippet's progress: a bar with rows, rate and ETA on a terminal, a log
 * line every few seconds (and at the end) anywhere else, so CI logs stay readable.
 */
export function progressReporter(interactive: boolean, write: (line: string) => void): { update(progress: BatchProgress): void; stop(): void } {
  let bar: SingleBar | undefined;
  let lastLine = 0;
  let last: BatchProgress | undefined;
  const line = (p: BatchProgress) =>
    `  [${p.snippetId}] ${p.walk}: ${p.rows}/${p.total} rows, ${p.batches} batches, ${Math.round(p.rowsPerSecond)} rows/s, ETA ${eta(p)}`;
  return {
    update(progress) {
      last = progress;
      if (interactive) {
        // Loaded for a terminal only: in CI its two dozen modules would slow every run's start.
        bar ??= new (createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress')).SingleBar({
          format: `  [${progress.snippetId}] ${progress.walk} {bar} {value}/{total} rows | {rate} rows/s | ETA {eta_formatted}`,
          hideCursor: true,
        });
        if (!bar.isActive) bar.start(progress.total, 0, { rate: 0 });
        bar.setTotal(progress.total);
        bar.update(progress.rows, { rate: Math.round(progress.rowsPerSecond) });
        return;
      }
      if (Date.now() - lastLine >= LOG_EVERY_MS) {
        lastLine = Date.now();
        write(line(progress));
      }
    },
    stop() {
      if (bar?.isActive) bar.stop();
      else if (last && !interactive) write(line(last));
      bar = undefined;
      last = undefined;
      lastLine = 0;
    },
  };
}
