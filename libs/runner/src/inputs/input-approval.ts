/**
 * The digests snippets.lock pins, computed from files on this machine: `snippets input add`
 * approves one file, `snippets manifest` the copies kept at their default paths. A file
 * is approved only once every row passes its schema, so a bad row is found in the pull
 * request, not in production.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { ParsedConfig } from '../config.ts';
import { InputError } from '../errors.ts';
import type { SnippetFile } from '../snippets/discovery.ts';
import { loadSnippets, type LoadedSnippet } from '../snippets/load-snippets.ts';
import type { InputDigest, ManifestInputs } from '../snippets/manifest.ts';
import type { InputDeclaration } from './declare-input.ts';
import { digestFile, scanInput } from './input-scan.ts';
import { defaultInputPath, inputLabel } from './prepare-inputs.ts';

/** A file's digest as snippets.lock pins it, its rows validated against the declaration. */
export async function approveFile(file: string, declaration: InputDeclaration, label: string): Promise<InputDigest> {
  if (!existsSync(file)) throw new InputError(`${label}: ${file} does not exist; give the path of the reviewed file`, { subject: file });
  const { sha256, bytes } = await digestFile(file);
  const { rows } = await scanInput({ file, declaration, label });
  return { sha256, rows, bytes };
}

/** Declares inputs, at a glance: only such files are imported to read their declarations. */
const MENTIONS_INPUTS = /\binputs\s*:/;

/** The snippets of the repo that declare inputs, loaded. */
export async function snippetsWithInputs(config: ParsedConfig, files: SnippetFile[]): Promise<LoadedSnippet[]> {
  const loaded = await loadSnippets(files, config.repoRoot, (file) => MENTIONS_INPUTS.test(readFileSync(file.file, 'utf8')));
  return loaded.filter((s) => Object.keys(s.definition.inputs ?? {}).length);
}

/**
 * The lock's inputs for the tree: each declared input's digest from its file at the default
 * path where there is one, else the entry the lock had, else null (declared, not approved).
 */
export async function manifestInputs(config: ParsedConfig, snippets: readonly LoadedSnippet[], previous: ManifestInputs = {}): Promise<ManifestInputs> {
  const inputs: ManifestInputs = {};
  for (const snippet of snippets) {
    const named: Record<string, InputDigest | null> = {};
    for (const [name, declaration] of Object.entries(snippet.definition.inputs ?? {})) {
      const local = defaultInputPath(config.repoRoot, snippet.id, name, declaration);
      named[name] = existsSync(local) ? await approveFile(local, declaration, inputLabel(snippet.id, name)) : (previous[snippet.id]?.[name] ?? null);
    }
    inputs[snippet.id] = named;
  }
  return inputs;
}
