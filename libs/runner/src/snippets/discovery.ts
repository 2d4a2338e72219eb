import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../checksum.ts';
import { InputError } from '../errors.ts';

/** A snippet file found on disk, before its module is imported. */
export interface SnippetFile {
  /** The file stem, e.g. `0007_backfill_settlement_currency`. */
  id: string;
  number: number;
  /** Absolute path. */
  file: string;
  /** Path relative to the repo root, for messages. */
  displayPath: string;
  /** sha256 of the file's bytes. */
  checksum: string;
}

const SNIPPET_FILE = /^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.ts$/;

function isCandidate(name: string): boolean {
  return name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');
}

/**
 * Lists `snippets/NNNN_slug.ts` with their checksums, sorted by number. It reads files
 * but imports none, so `status` and `manifest` never run snippet code.
 */
export async function discoverSnippetFiles(repoRoot: string, snippetsDir: string): Promise<SnippetFile[]> {
  const dir = path.resolve(repoRoot, snippetsDir);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new InputError(`${snippetsDir}/: snippets directory not found; create it or set snippetsDir in snippets.config.ts`, {
      subject: dir,
      cause: error,
    });
  }

  const files: SnippetFile[] = [];
  const byNumber = new Map<number, SnippetFile>();
  // By code unit, not localeCompare: its collation took milliseconds per thousand names.
  const candidates = entries.filter((e) => e.isFile() && isCandidate(e.name)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of candidates) {
    const displayPath = `${snippetsDir}/${entry.name}`;
    const match = SNIPPET_FILE.exec(entry.name);
    if (!match) {
      throw new InputError(
        `${displayPath}: snippet files are named NNNN_slug.ts (four digits, then lower-case words joined by _), e.g. 0007_backfill_currency.ts; rename it`,
        { subject: displayPath },
      );
    }
    const number = Number(match[1]);
    const clash = byNumber.get(number);
    if (clash) {
      throw new InputError(
        `${displayPath}: number ${match[1]} is already used by ${clash.displayPath}; give one of them the next free number`,
        { subject: displayPath },
      );
    }
    const snippetFile: SnippetFile = { id: entry.name.slice(0, -'.ts'.length), number, file: path.join(dir, entry.name), displayPath, checksum: '' };
    byNumber.set(number, snippetFile);
    files.push(snippetFile);
  }
  // Read synchronously: for thousands of small files, the asynchronous open, stat, read and
  // close of each, every one a trip to the thread pool, were most of `status`'s time.
  for (const f of files) f.checksum = sha256(readFileSync(f.file));
  return files.sort((a, b) => a.number - b.number);
}
