// How every command reads the global --cwd: the repo it works in, and the input the commands take.
import type { Command } from 'commander';

/** The snippet repo given by --cwd (the current directory by default). */
export function repoDir(program: Command): string {
  return program.opts<{ cwd: string }>().cwd;
}

/** The repo and environment a command in ../commands works on. */
export function commandInput(program: Command): { cwd: string; env: NodeJS.ProcessEnv } {
  return { cwd: repoDir(program), env: process.env };
}
