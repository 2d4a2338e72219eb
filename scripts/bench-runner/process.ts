import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Command } from './tool.ts';

/**
 * Runs a tool as its own process and returns the wall time around it, start-up
 * included, as a user or a pipeline step would wait for it. A failed run is an error.
 */
export function timed(command: Command, cwd: string, databaseUrl: string): Promise<number> {
  const env: Record<string, string | undefined> = { ...process.env, ...command.env, DATABASE_URL: databaseUrl, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  return new Promise((resolve, reject) => {
    const start = performance.now();
    execFile(command.file, command.args, { cwd, env, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const ms = performance.now() - start;
      if (error) reject(new Error(`${[command.file, ...command.args].join(' ')} failed in ${cwd}:\n${stdout.slice(-2000)}${stderr.slice(-4000)}`));
      else resolve(ms);
    });
  });
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
