import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { manifest } from '../../src/commands/manifest.ts';

export const CLI = fileURLToPath(new URL('../../bin/snippets.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * This process's environment without its colour settings, plus `extra`: the child gets
 * the colour environment its test means. vitest sets FORCE_COLOR in its workers, and with a
 * NO_COLOR beside it Node warns on every child's stderr.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
  return { ...inherited, ...extra };
}

/** Runs the real `snippets` CLI in a child process, as a pipeline would: a plain pipe, unless `env` sets the colour variables. */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  const env = childEnv({ NO_COLOR: '1', ...options.env });
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd, env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Writes the repo's snippets.lock in this process, as `snippets manifest` does: for tests
 * about something else, where a CLI process only adds its start-up.
 */
export async function writeManifest(dir: string): Promise<void> {
  await manifest(dir, false);
}
