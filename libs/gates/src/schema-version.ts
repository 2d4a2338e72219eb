import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { InputError } from '@snippets/runner';
import { describeVersionSource, type ParsedConfig } from '@snippets/runner/engine';
import type { DumpFormat } from './dumps.ts';

const run = promisify(execFile);

type VersionSource = NonNullable<ParsedConfig['service']>['version'];

/** The recorded versions of a base, or `absent` when it has no such table. */
export type RecordedVersions = { kind: 'absent' } | { kind: 'rows'; versions: string[] };

const plainIdent = (name: string) => /^[a-z_][a-z0-9_$]*$/.test(name);
/** pg_dump quotes an identifier unless it is plain lower case (and not a keyword): accept both spellings. */
const spellings = (name: string) => [...new Set([`"${name.replaceAll('"', '""')}"`, ...(plainIdent(name) ? [name] : [])])];
const unquote = (ident: string) => (ident.startsWith('"') ? ident.slice(1, -1).replaceAll('""', '"') : ident);

/** COPY's text format escapes a few characters with a backslash. */
function unescapeCopy(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' })[c] ?? c);
}

/**
 * Reads the version table's rows from the COPY block of a dump's SQL text, line by line,
 * stopping at the end of that block: the rest of a large dump is never read.
 */
async function versionsFromSql(lines: AsyncIterable<string>, source: Exclude<VersionSource, { kind: 'none' }>): Promise<RecordedVersions> {
  const column = source.kind === 'drizzle' ? 'hash' : source.column;
  const headers = spellings(source.schema).flatMap((s) => spellings(source.table).map((t) => `COPY ${s}.${t} (`));
  let index = -1;
  const versions: string[] = [];
  for await (const line of lines) {
    if (index < 0) {
      const header = headers.find((h) => line.startsWith(h));
      if (!header) continue;
      const columns = line.slice(header.length, line.lastIndexOf(') FROM stdin;')).split(', ').map(unquote);
      index = columns.indexOf(column);
      if (index < 0) return { kind: 'absent' };
      continue;
    }
    if (line === '\\.') return { kind: 'rows', versions };
    versions.push(unescapeCopy(line.split('\t')[index]!));
  }
  return { kind: 'absent' };
}

/**
 * The schema versions a dump records, read without restoring it: for a custom or
 * directory dump pg_restore prints the one table's data, a plain dump is scanned for it.
 * Undefined when the service records no version.
 */
export async function readDumpVersions(file: string, format: DumpFormat, source: VersionSource): Promise<RecordedVersions | undefined> {
  if (source.kind === 'none') return undefined;
  if (format === 'plain') {
    const stream = createReadStream(file, 'utf8');
    try {
      return await versionsFromSql(createInterface({ input: stream, crlfDelay: Infinity }), source);
    } finally {
      stream.destroy();
    }
  }
  let stdout: string;
  try {
    ({ stdout } = await run('pg_restore', ['--data-only', '-n', source.schema, '-t', source.table, '-f', '-', file], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim().split('\n')[0] ?? '';
    throw new InputError(`--dump ${file}: pg_restore could not read it (${stderr || (error as Error).message}); check the file is a complete dump`, { subject: file, cause: error });
  }
  return versionsFromSql(
    (async function* () {
      yield* stdout.split('\n');
    })(),
    source,
  );
}

/**
 * Refuses a base that is not a database of this service at a version it knows: no version
 * table, or a drizzle migration the service's journal does not have. One line, with how to
 * configure a service whose schema is not versioned that way.
 */
export function checkRecordedVersions(label: string, recorded: RecordedVersions | undefined, source: VersionSource, journal: Map<string, string>): void {
  if (!recorded) return;
  if (recorded.kind === 'absent') {
    const where = describeVersionSource(source);
    throw new InputError(
      `${label}: has no ${where}, so it is not a database of this service; take the dump from the service's database, or, if the service records its schema version elsewhere, set service.schemaVersion in snippets.config.ts ({ table, column } or 'none')`,
      { subject: label },
    );
  }
  if (source.kind !== 'drizzle') return;
  const known = new Set(journal.values());
  const unknown = recorded.versions.filter((hash) => !known.has(hash));
  if (unknown.length) {
    throw new InputError(
      `${label}: was taken at a schema version this service does not know (${unknown.length} unknown migration${unknown.length > 1 ? 's' : ''}, e.g. ${unknown[0]!.slice(0, 12)}); take a dump from a database at this service's version`,
      { subject: label },
    );
  }
}
