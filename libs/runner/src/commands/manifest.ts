import path from 'node:path';
import { loadConfig } from '../config.ts';
import { discoverSnippetFiles } from '../snippets/discovery.ts';
import { SafetyRefusal } from '../errors.ts';
import { buildManifest, readManifest, writeManifest, type Manifest, type ManifestInputs } from '../snippets/manifest.ts';
import { manifestInputs, snippetsWithInputs } from '../inputs/input-approval.ts';
import { inputLabel } from '../inputs/prepare-inputs.ts';
import { plan } from '../planning/plan.ts';
import { requireManifest } from '../repo.ts';

export interface ManifestReport {
  file: string;
  manifest: Manifest;
  written: boolean;
}

/** Declared inputs the committed lock does not approve, or approves with another digest than the file kept here. */
function inputDifferences(tree: ManifestInputs, committed: ManifestInputs): { message: string; subject: string }[] {
  return Object.entries(tree).flatMap(([id, named]) =>
    Object.entries(named).flatMap(([name, digest]) => {
      const approved = committed[id]?.[name];
      const subject = inputLabel(id, name);
      if (!approved) return [{ message: `${subject}: not approved in snippets.lock; run \`snippets input add ${name} FILE\` with the reviewed file and commit snippets.lock`, subject }];
      if (digest && digest.sha256 !== approved.sha256) return [{ message: `${subject}: the file at its default path differs from the digest snippets.lock approved; approve it with snippets input add, or remove it`, subject }];
      return [];
    }),
  );
}

/** Writes `snippets.lock` from the tree (atomically), or with `check` refuses a tree that differs from it. */
export async function manifest(cwd: string, check: boolean): Promise<ManifestReport> {
  const config = await loadConfig(path.resolve(cwd));
  const files = await discoverSnippetFiles(config.repoRoot, config.snippetsDir);
  const previous = check ? await requireManifest(config) : await readManifest(config.manifestFile).catch(() => undefined);
  const inputs = await manifestInputs(config, await snippetsWithInputs(config, files), previous?.inputs);
  const expected = buildManifest(files, inputs);
  if (check) {
    const committed = previous!;
    const refusals = plan({ files, snippets: [], ledger: [], manifest: committed }).refusals.filter((r) => r.check === 'manifest-mismatch');
    const unapproved = inputDifferences(inputs, committed.inputs ?? {});
    const first = refusals[0] ?? unapproved[0];
    if (first) {
      const count = refusals.length + unapproved.length;
      const more = count > 1 ? ` (and ${count - 1} more)` : '';
      throw new SafetyRefusal(`${first.message}${more}`, 'manifest-mismatch', { subject: first.subject });
    }
    return { file: config.manifestFile, manifest: committed, written: false };
  }
  await writeManifest(config.manifestFile, expected);
  return { file: config.manifestFile, manifest: expected, written: true };
}
