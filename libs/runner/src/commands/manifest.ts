import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.ts';
import { discoverSnippetFiles } from '../snippets/discovery.ts';
import { SafetyRefusal } from '../errors.ts';
import { buildManifest, renderManifest, type Manifest } from '../snippets/manifest.ts';
import { plan } from '../planning/plan.ts';
import { requireManifest } from '../repo.ts';

export interface ManifestReport {
  file: string;
  manifest: Manifest;
  written: boolean;
}

/** Writes `snippets.lock` from the tree (atomically), or with `check` refuses a tree that differs from it. */
export async function manifest(cwd: string, check: boolean): Promise<ManifestReport> {
  const config = await loadConfig(path.resolve(cwd));
  const files = await discoverSnippetFiles(config.repoRoot, config.snippetsDir);
  const expected = buildManifest(files);
  if (check) {
    const committed = await requireManifest(config);
    const refusals = plan({ files, snippets: [], ledger: [], manifest: committed }).refusals.filter((r) => r.check === 'manifest-mismatch');
    if (refusals.length) {
      const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more)` : '';
      throw new SafetyRefusal(`${refusals[0]!.message}${more}`, 'manifest-mismatch', { subject: refusals[0]!.subject });
    }
    return { file: config.manifestFile, manifest: committed, written: false };
  }
  const temporary = `${config.manifestFile}.${process.pid}.tmp`;
  await writeFile(temporary, renderManifest(expected));
  await rename(temporary, config.manifestFile);
  return { file: config.manifestFile, manifest: expected, written: true };
}
