import { InputError } from './errors.ts';
import { MANIFEST_FILE, type ManifestInputs } from './snippets/manifest.ts';

/** The `inputs` entries of snippets.lock's text, so rewriting the lock keeps every approved digest. */
export function lockInputs(text: string | undefined): ManifestInputs {
  if (text === undefined) return {};
  let inputs: unknown;
  try {
    inputs = (JSON.parse(text) as { inputs?: unknown }).inputs ?? {};
  } catch (error) {
    throw new InputError(
      `${MANIFEST_FILE}: is not valid JSON (${(error as Error).message}), and rewriting it would lose its inputs' digests; fix it (after a merge conflict keep both sides' entries) and run this again`,
      { subject: MANIFEST_FILE },
    );
  }
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new InputError(`${MANIFEST_FILE}: its "inputs" is not an object of snippet ids; fix it and run this again`, { subject: MANIFEST_FILE });
  }
  return inputs as ManifestInputs;
}
