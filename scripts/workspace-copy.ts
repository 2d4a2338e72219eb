import { execFile, execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKSPACE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CommandResult {
  code: number;
  output: string;
}

/**
 * A temporary copy of the workspace's files (tracked and new, not ignored), with the
 * installed node_modules linked in: where end-to-end tests run the real `nx g`.
 */
export async function copyWorkspace(): Promise<{ root: string; dispose(): Promise<void> }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'snippets-ws-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: WORKSPACE_ROOT })
    .toString()
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await cp(path.join(WORKSPACE_ROOT, file), path.join(root, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted in the work tree but still in the index
    });
  }
  await symlink(path.join(WORKSPACE_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return { root, dispose: () => rm(root, { recursive: true, force: true }) };
}

const NX_ENV = { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', CI: 'true', NO_COLOR: '1' };

/** Runs a command with Nx's CI-safe settings; output is stdout and stderr together. */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<CommandResult> {
  const fullEnv: Record<string, string | undefined> = { ...process.env, ...NX_ENV, ...env };
  delete fullEnv.FORCE_COLOR;
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd, env: fullEnv, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
}

/** `nx g` without a terminal must be told not to prompt; other commands would pass the flag on. */
export function nx(args: string[], cwd: string): Promise<CommandResult> {
  return run(path.join(WORKSPACE_ROOT, 'node_modules/.bin/nx'), args[0] === 'g' ? [...args, '--no-interactive'] : args, cwd);
}

/** Every file below `dir` (relative paths), to prove a refused command wrote nothing. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.parentPath.includes('node_modules') && !e.parentPath.includes(`${path.sep}.nx`))
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}
