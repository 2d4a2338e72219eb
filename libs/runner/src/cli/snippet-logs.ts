// Where the lines a snippet logs, and other lines for the user, are written.
import type { LogSink } from '../execution/executor.ts';
import { colors } from './output.ts';

/** Lines for the user: on stdout, or on stderr when stdout carries --json output. */
export const linesTo = (json: boolean) => (text: string) => void (json ? process.stderr : process.stdout).write(text);

export function logSink(write: (text: string) => void): LogSink {
  return (id, level, message) => write(`  ${colors.dim(`[${id}]`)} ${level === 'warn' ? colors.yellow(message) : message}\n`);
}
