import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { compareManifest, SnippetsError } from '@snippets/runner';
import {
  discoverSnippetFiles,
  loadSnippets,
  readManifest,
  readServiceJournal,
  type LoadedSnippet,
  type ManifestDifference,
  type ParsedConfig,
} from '@snippets/runner/engine';

export interface ManifestEvidence {
  error?: string;
  differences: ManifestDifference[];
}

export interface GraphEvidence {
  /** A discovery or loading error: bad name, duplicate number, unknown dependency, cycle… */
  error?: string;
  snippets: { id: string; dependsOn: string[]; requires: string[]; squash: boolean }[];
  /** Service migration tags the service has, or undefined without drizzle migrations. */
  serviceMigrations?: string[];
  /** How the service records its schema version; a tag of another tool's table is checked against each base, not here. */
  versionSource?: 'drizzle' | 'table' | 'none';
}

export interface TestsEvidence {
  missing: string[];
  passed: boolean;
  output: string;
}

export async function manifestEvidence(config: ParsedConfig): Promise<ManifestEvidence> {
  try {
    const files = await discoverSnippetFiles(config.repoRoot, config.snippetsDir);
    const manifest = await readManifest(config.manifestFile);
    if (!manifest) return { error: 'snippets.lock is missing; run `snippets manifest` and commit it', differences: [] };
    return { differences: compareManifest(manifest, files) };
  } catch (error) {
    if (error instanceof SnippetsError) return { error: error.message, differences: [] };
    throw error;
  }
}

export async function graphEvidence(config: ParsedConfig): Promise<{ evidence: GraphEvidence; snippets: LoadedSnippet[] }> {
  const serviceMigrations = config.service?.migrationsFolder ? [...(await readServiceJournal(config.service.migrationsFolder)).keys()] : undefined;
  try {
    const snippets = await loadSnippets(await discoverSnippetFiles(config.repoRoot, config.snippetsDir), config.repoRoot);
    return {
      snippets,
      evidence: {
        serviceMigrations,
        versionSource: config.service?.version.kind,
        snippets: snippets.map((s) => ({
          id: s.id,
          dependsOn: s.definition.dependsOn ?? [],
          requires: s.definition.requires?.migrations ?? [],
          squash: Boolean(s.replaces),
        })),
      },
    };
  } catch (error) {
    if (error instanceof SnippetsError) return { snippets: [], evidence: { error: error.message, snippets: [], serviceMigrations } };
    throw error;
  }
}

/** Every snippet needs a test beside it, and the repo's own `npm test` must pass. */
export async function testsEvidence(config: ParsedConfig, snippets: LoadedSnippet[]): Promise<TestsEvidence> {
  const missing = snippets
    .filter((s) => !s.replaces && !existsSync(path.join(path.dirname(s.file), `${s.id}.test.ts`)))
    .map((s) => s.id);
  const result = await new Promise<{ passed: boolean; output: string }>((resolve) => {
    execFile('npm', ['test', '--silent'], { cwd: config.repoRoot, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ passed: !error, output: `${stdout}${stderr}` }),
    );
  });
  return { missing, ...result };
}
