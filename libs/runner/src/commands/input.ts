import path from 'node:path';
import { loadConfig } from '../config.ts';
import { InputError } from '../errors.ts';
import { approveFile, snippetsWithInputs } from '../inputs/input-approval.ts';
import { inputLabel } from '../inputs/prepare-inputs.ts';
import { discoverSnippetFiles } from '../snippets/discovery.ts';
import { buildManifest, writeManifest, type InputDigest } from '../snippets/manifest.ts';
import { requireManifest } from '../repo.ts';

export interface InputAddReport {
  snippetId: string;
  input: string;
  digest: InputDigest;
  lockFile: string;
}

/**
 * `snippets input add NAME FILE`: approves FILE as input NAME of the snippet that declares
 * it (`--snippet` when several do), writing its digest, row count and size to snippets.lock
 * for the pull request. The file itself stays out of git.
 */
export async function addInput(cwd: string, name: string, file: string, snippetId?: string): Promise<InputAddReport> {
  const config = await loadConfig(path.resolve(cwd));
  const files = await discoverSnippetFiles(config.repoRoot, config.snippetsDir);
  const committed = await requireManifest(config);
  const declaring = (await snippetsWithInputs(config, files)).filter((s) => name in (s.definition.inputs ?? {}) && (!snippetId || s.id === snippetId));
  if (!declaring.length) {
    throw new InputError(`input ${name}: ${snippetId ? `${snippetId} does not declare it` : 'no snippet declares it'}; declare it in the snippet's inputs first`, { subject: name });
  }
  if (declaring.length > 1) {
    throw new InputError(`input ${name}: declared by ${declaring.map((s) => s.id).join(', ')}; say which with --snippet ID`, { subject: '--snippet' });
  }
  const snippet = declaring[0]!;
  const digest = await approveFile(path.resolve(cwd, file), snippet.definition.inputs![name]!, inputLabel(snippet.id, name));
  const inputs = { ...committed.inputs, [snippet.id]: { ...committed.inputs?.[snippet.id], [name]: digest } };
  // Only the input's entry changes: the snippets' checksums stay as committed.
  const manifest = buildManifest(
    Object.entries(committed.snippets).map(([id, checksum]) => ({ id, checksum })),
    inputs,
  );
  await writeManifest(config.manifestFile, manifest);
  return { snippetId: snippet.id, input: name, digest, lockFile: config.manifestFile };
}
