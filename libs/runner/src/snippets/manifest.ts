import { readFile } from 'node:fs/promises';
import { sha256 } from '../checksum.ts';
import type { SnippetFile } from './discovery.ts';
import { InputError } from '../errors.ts';

export const MANIFEST_FILE = 'snippets.lock';

/**
 * `snippets.lock`: the sha256 of every snippet and one hash over all of them. It is
 * committed with each snippet, so two PRs that each add one conflict on it in git.
 */
export interface Manifest {
  version: 1;
  /** sha256 over the `id:checksum` lines, in number order. */
  total: string;
  snippets: Record<string, string>;
}

export function buildManifest(files: Pick<SnippetFile, 'id' | 'checksum'>[]): Manifest {
  const snippets = Object.fromEntries(files.map((f) => [f.id, f.checksum]));
  const total = sha256(files.map((f) => `${f.id}:${f.checksum}\n`).join(''));
  return { version: 1, total, snippets };
}

export function renderManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
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
    if (parsed.version !== 1 || typeof parsed.total !== 'string' || typeof parsed.snippets !== 'object') {
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
