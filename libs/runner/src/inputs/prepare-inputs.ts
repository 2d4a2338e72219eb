/**
 * Before a run writes anything: each input of the snippets it will apply is fetched once
 * to a local copy, its bytes checked against the digest snippets.lock approved, then every
 * row validated. The snippets read only those copies, so what was checked is what they
 * read. The first input that fails stops the run with nothing written.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describeCause, InputError, SafetyRefusal, SnippetsError } from '../errors.ts';
import type { LoadedSnippet } from '../snippets/load-snippets.ts';
import { MANIFEST_FILE, type InputDigest, type Manifest } from '../snippets/manifest.ts';
import { FORMAT_EXTENSION, type InputDeclaration } from './declare-input.ts';
import { inputSource } from './input-source.ts';
import { copyHashed, digestFile, jsonAsNdjson, scanInput } from './input-scan.ts';
import type { LocalCopies } from './local-copies.ts';
import { prepared, type PreparedInputs } from './snippet-inputs.ts';

/** The environment variable CI, the ECS task and the Kubernetes Job give locations in: `name=location` entries. */
export const INPUTS_ENV = 'SNIPPETS_INPUTS';

/** Locations by `name` or `snippetId/name`, from `--input` entries, then SNIPPETS_INPUTS. */
export interface InputLocations {
  flags: Map<string, string>;
  env: Map<string, string>;
}

function parseEntries(entries: string[], from: string): Map<string, string> {
  const locations = new Map<string, string>();
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const key = entry.slice(0, at).trim();
    if (at <= 0 || !entry.slice(at + 1).trim() || !/^([0-9]{4}_[A-Za-z0-9_-]+\/)?[A-Za-z][A-Za-z0-9_-]*$/.test(key)) {
      throw new InputError(`${from} '${entry.split('=')[0]}=…': give NAME=LOCATION (or SNIPPET_ID/NAME=LOCATION), e.g. accounts=s3://bucket/accounts.csv`, { subject: from });
    }
    locations.set(key, entry.slice(at + 1).trim());
  }
  return locations;
}

export function inputLocations(flags: string[] = [], env: Record<string, string | undefined> = {}): InputLocations {
  const fromEnv = (env[INPUTS_ENV] ?? '').split(/\s+/).filter(Boolean);
  return { flags: parseEntries(flags, '--input'), env: parseEntries(fromEnv, INPUTS_ENV) };
}

/** Where a repo keeps an input's copy for development, gitignored: `inputs/<snippet id>/<name>.<ext>`. */
export function defaultInputPath(repoRoot: string, snippetId: string, name: string, declaration: InputDeclaration): string {
  return path.join(repoRoot, 'inputs', snippetId, `${name}.${FORMAT_EXTENSION[declaration.format]}`);
}

/**
 * `--input` names no snippet to run declares: a typo, or a snippet applied since. Said as
 * a warning, so a pipeline that passes its locations again after a success still runs.
 */
export function unusedInputFlags(locations: InputLocations, pending: readonly LoadedSnippet[]): string[] {
  const declared = new Set(pending.flatMap((s) => Object.keys(s.definition.inputs ?? {}).flatMap((name) => [name, `${s.id}/${name}`])));
  return [...locations.flags.keys()].filter((key) => !declared.has(key));
}

export const inputLabel = (snippetId: string, name: string) => `input ${name} of ${snippetId}`;

function locationOf(locations: InputLocations, repoRoot: string, snippet: LoadedSnippet, name: string, declaration: InputDeclaration): string {
  const keys = [`${snippet.id}/${name}`, name];
  for (const from of [locations.flags, locations.env]) {
    for (const key of keys) {
      const location = from.get(key);
      if (location) return location;
    }
  }
  const local = defaultInputPath(repoRoot, snippet.id, name, declaration);
  if (existsSync(local)) return local;
  throw new InputError(
    `${inputLabel(snippet.id, name)}: no location given; pass --input ${name}=LOCATION (a path, s3://bucket/key or https://…), set it in ${INPUTS_ENV}, or put the file at ${path.relative(repoRoot, local)}`,
    { subject: '--input' },
  );
}

function approvedDigest(manifest: Manifest, snippetId: string, name: string): InputDigest {
  const digest = manifest.inputs?.[snippetId]?.[name];
  if (!digest) {
    throw new SafetyRefusal(
      `${inputLabel(snippetId, name)}: not approved in ${MANIFEST_FILE}; run \`snippets input add ${name} FILE\` with the reviewed file and commit ${MANIFEST_FILE}; nothing was written`,
      'input-digest',
      { subject: inputLabel(snippetId, name) },
    );
  }
  return digest;
}

function differs(label: string, what: string, approved: string | number, found: string | number): SafetyRefusal {
  return new SafetyRefusal(
    `${label}: its ${what} is ${found}, and ${MANIFEST_FILE} approved ${approved}; this is not the reviewed file (approve a new one with snippets input add); nothing was written`,
    'input-digest',
    { subject: label },
  );
}

export interface PrepareInputsOptions {
  repoRoot: string;
  manifest: Manifest;
  locations: InputLocations;
  env: Record<string, string | undefined>;
  copies: LocalCopies;
}

/** The inputs of `snippets`, each fetched, checked and scanned; by snippet id. */
export async function prepareInputs(snippets: readonly LoadedSnippet[], options: PrepareInputsOptions): Promise<Map<string, PreparedInputs>> {
  const all = new Map<string, PreparedInputs>();
  for (const snippet of snippets) {
    const declared = Object.entries(snippet.definition.inputs ?? {});
    if (!declared.length) continue;
    const inputs: Record<string, ReturnType<typeof prepared>> = {};
    for (const [name, declaration] of declared) {
      const label = inputLabel(snippet.id, name);
      const approved = approvedDigest(options.manifest, snippet.id, name);
      const source = inputSource(locationOf(options.locations, options.repoRoot, snippet, name, declaration), { input: name, baseDir: options.repoRoot, env: options.env });
      const file = options.copies.pathFor(snippet.id, name, FORMAT_EXTENSION[declaration.format]);
      const bytes = await copyHashed(await source.open(), file).catch((error: unknown) => {
        if (error instanceof SnippetsError) throw error;
        // A connection that drops mid-read, say: the stream's own error.
        throw new InputError(`${label}: reading ${source.display} failed (${describeCause(error)}); check the location and run again; nothing was written`, { subject: label, cause: error });
      });
      if (bytes.bytes !== approved.bytes) throw differs(label, 'size', `${approved.bytes} bytes`, `${bytes.bytes} bytes`);
      if (bytes.sha256 !== approved.sha256) throw differs(label, 'sha256', approved.sha256, bytes.sha256);
      const readable = declaration.format === 'json' ? await jsonAsNdjson({ file, declaration, label }, `${file}.ndjson`) : { file, declaration, label };
      const index = await scanInput(readable);
      if (index.rows !== approved.rows) throw differs(label, 'row count', approved.rows, index.rows);
      inputs[name] = prepared({ ...readable, name, snippetId: snippet.id, digest: { ...bytes, rows: index.rows }, index });
    }
    all.set(snippet.id, inputs);
  }
  return all;
}

/**
 * A test's fixtures as `snippet`'s inputs, read in place: validated like a run's, but not
 * checked against snippets.lock, which pins the real data, not the fixture.
 */
export async function prepareFixtureInputs(snippet: LoadedSnippet, files: Readonly<Record<string, string>>): Promise<PreparedInputs> {
  const declared = snippet.definition.inputs ?? {};
  const missing = Object.keys(declared).filter((name) => !(name in files));
  const unknown = Object.keys(files).filter((name) => !(name in declared));
  if (missing.length || unknown.length) {
    const problem = missing.length ? `declares ${missing.join(', ')}, which the test gives no fixture for` : `declares no input ${unknown.join(', ')}`;
    throw new InputError(`${snippet.displayPath}: ${problem}; pass { inputs: { name: fixture file } } for each declared input`, { subject: snippet.displayPath });
  }
  const inputs: Record<string, ReturnType<typeof prepared>> = {};
  for (const [name, declaration] of Object.entries(declared)) {
    const file = files[name]!;
    if (!existsSync(file)) throw new InputError(`${inputLabel(snippet.id, name)}: fixture ${file} does not exist`, { subject: file });
    const label = inputLabel(snippet.id, name);
    const bytes = await digestFile(file);
    const index = await scanInput({ file, declaration, label });
    inputs[name] = prepared({ file, declaration, label, name, snippetId: snippet.id, digest: { ...bytes, rows: index.rows }, index });
  }
  return inputs;
}
