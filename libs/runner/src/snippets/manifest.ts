import { readFile, rename, writeFile } from 'node:fs/promises';
import { sha256 } from '../checksum.ts';
import type { SnippetFile } from './discovery.ts';
import { InputError } from '../errors.ts';

export const MANIFEST_FILE = 'snippets.lock';

/** What approves an input: its bytes' sha256, its data rows and its size. The data stays out of git. */
export interface InputDigest {
  sha256: string;
  rows: number;
  bytes: number;
}

/**
 * Per snippet id, per input name, its digest; null for an input declared but not approved
 * yet (`snippets input add` fills it in).
 */
export type ManifestInputs = Record<string, Record<string, InputDigest | null>>;

/**
 * `snippets.lock`: the sha256 of every snippet and one hash over all of them, and the
 * digest of each snippet's external inputs. It is committed with each snippet, so two PRs
 * that each add one conflict on it in git.
 */
export interface Manifest {
  version: 1;
  /** sha256 over the `id:checksum` lines, in number order, then the inputs' lines. */
  total: string;
  snippets: Record<string, string>;
  inputs?: ManifestInputs;
}

const inputLine = (id: string, name: string, digest: InputDigest | null) =>
  `${id}/${name}:${digest ? `${digest.sha256}:${digest.rows}:${digest.bytes}` : 'pending'}\n`;

/** The inputs sorted by snippet and name, those of snippets no longer in the tree left out. */
function keptInputs(inputs: ManifestInputs, ids: Set<string>): ManifestInputs | undefined {
  const kept = Object.entries(inputs)
    .filter(([id, named]) => ids.has(id) && Object.keys(named).length)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, named]) => [id, Object.fromEntries(Object.entries(named).sort(([a], [b]) => a.localeCompare(b)))] as const);
  return kept.length ? Object.fromEntries(kept) : undefined;
}

export function buildManifest(files: Pick<SnippetFile, 'id' | 'checksum'>[], inputs: ManifestInputs = {}): Manifest {
  const snippets = Object.fromEntries(files.map((f) => [f.id, f.checksum]));
  const kept = keptInputs(inputs, new Set(Object.keys(snippets)));
  const inputLines = Object.entries(kept ?? {}).flatMap(([id, named]) => Object.entries(named).map(([name, digest]) => inputLine(id, name, digest)));
  const total = sha256(files.map((f) => `${f.id}:${f.checksum}\n`).join('') + inputLines.join(''));
  return { version: 1, total, snippets, ...(kept ? { inputs: kept } : {}) };
}

const isDigest = (value: unknown): value is InputDigest | null =>
  value === null ||
  (typeof value === 'object' &&
    /^[0-9a-f]{64}$/.test(String((value as InputDigest).sha256)) &&
    Number.isInteger((value as InputDigest).rows) &&
    Number.isInteger((value as InputDigest).bytes));

const isInputs = (value: unknown): value is ManifestInputs =>
  value === undefined ||
  (typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((named) => typeof named === 'object' && named !== null && Object.values(named).every(isDigest)));

export function renderManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Writes `snippets.lock` atomically: a reader never sees half of it. */
export async function writeManifest(file: string, manifest: Manifest): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, renderManifest(manifest));
  await rename(temporary, file);
}

/** Reads `snippets.lock`; undefined when the file does not exist. */
export async function readManifest(file: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Manifest;
    if (parsed.version !== 1 || typeof parsed.total !== 'string' || typeof parsed.snippets !== 'object' || !isInputs(parsed.inputs)) {
      throw new Error('unexpected shape');
    }
    return parsed;
  } catch {
    throw new InputError(`${MANIFEST_FILE}: is not a manifest written by \`snippets manifest\`; regenerate it with \`snippets manifest\``, {
      subject: file,
    });
  }
}

export interface ManifestDifference {
  id: string;
  problem: 'not-in-manifest' | 'checksum-differs' | 'file-missing';
}

/** Pure comparison of the tree against the committed manifest. */
export function compareManifest(manifest: Manifest, files: SnippetFile[]): ManifestDifference[] {
  const differences: ManifestDifference[] = [];
  for (const file of files) {
    const recorded = manifest.snippets[file.id];
    if (recorded === undefined) differences.push({ id: file.id, problem: 'not-in-manifest' });
    else if (recorded !== file.checksum) differences.push({ id: file.id, problem: 'checksum-differs' });
  }
  const present = new Set(files.map((f) => f.id));
  for (const id of Object.keys(manifest.snippets)) {
    if (!present.has(id)) differences.push({ id, problem: 'file-missing' });
  }
  return differences;
}
