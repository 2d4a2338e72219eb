/**
 * Where a run keeps the inputs it fetched: one private directory per process under the
 * system's temporary directory, removed when the run ends, when the process exits, and
 * before a second SIGINT or SIGTERM ends it (see cli/stop-signals.ts). A kill -9 leaves
 * it behind; the next run removes such directories of processes that are gone.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIX = 'snippets-inputs-';
const live = new Set<string>();
let exitHookInstalled = false;

function removeSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}

/** Removes every copy this process holds, at once: for the moments before it ends. */
export function removeLocalCopiesSync(): void {
  for (const dir of [...live]) removeSync(dir);
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Directories left by runs that were killed without a chance to clean up. */
function removeOrphans(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    if (name.startsWith(PREFIX) && Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) {
      rmSync(path.join(root, name), { recursive: true, force: true });
    }
  }
}

export interface LocalCopies {
  dir: string;
  /** A path in the directory for one input's copy. */
  pathFor(snippetId: string, input: string, extension: string): string;
  remove(): void;
}

/** A fresh private directory (mode 0700) for this run's copies. */
export function createLocalCopies(root = os.tmpdir()): LocalCopies {
  removeOrphans(root);
  const dir = mkdtempSync(path.join(root, `${PREFIX}${process.pid}-`));
  live.add(dir);
  if (!exitHookInstalled) {
    process.on('exit', removeLocalCopiesSync);
    exitHookInstalled = true;
  }
  return {
    dir,
    pathFor: (snippetId, input, extension) => path.join(dir, `${snippetId}.${input}.${extension}`),
    remove: () => removeSync(dir),
  };
}

/** Whether `dir` is a copies directory this process still holds (for tests). */
export const holdsLocalCopies = (dir: string) => live.has(dir);
