import { execFile } from 'node:child_process';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '@snippets/runner';

const run = promisify(execFile);

export type DumpFormat = 'custom' | 'directory' | 'plain';

/** Tells pg_dump's three formats apart by their content, not their names. */
export async function detectDumpFormat(file: string): Promise<DumpFormat> {
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new InputError(`--dump ${file}: no such file or directory; pass a pg_dump file (custom, directory or plain format)`, { subject: file });
  }
  if (info.isDirectory()) {
    try {
      await stat(path.join(file, 'toc.dat'));
      return 'directory';
    } catch {
      throw new InputError(`--dump ${file}: a directory without toc.dat is not a pg_dump directory-format dump`, { subject: file });
    }
  }
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const head = buffer.subarray(0, bytesRead);
    if (head.subarray(0, 5).toString('latin1') === 'PGDMP') return 'custom';
    if (head.toString('utf8').includes('PostgreSQL database dump')) return 'plain';
  } finally {
    await handle.close();
  }
  throw new InputError(`--dump ${file}: not a pg_dump file (custom, directory or plain format); make it with pg_dump`, { subject: file });
}

/** Restores a dump into an empty database; a dump that does not restore cleanly is bad input. */
export async function restoreDump(file: string, format: DumpFormat, databaseUrl: string): Promise<void> {
  const [command, args] =
    format === 'plain'
      ? ['psql', ['--quiet', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-f', file, '-d', databaseUrl]]
      : ['pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '-d', databaseUrl, file]];
  try {
    await run(command, args, { maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim().split('\n')[0] ?? '';
    throw new InputError(`--dump ${file}: ${command} could not restore it (${stderr || (error as Error).message}); check the file is a complete dump`, {
      subject: file,
      cause: error,
    });
  }
}
