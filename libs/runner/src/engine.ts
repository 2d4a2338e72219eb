/**
 * The runner's API for tools built on it (the quality gates): the same configuration,
 * discovery, loading and execution `snippets run` uses, so a rehearsal runs a snippet
 * exactly as production will. Only what such a tool needs is named here; the rest of
 * `src/` is the runner's own. The snippet API, the commands (`run`, `planCommand`) and
 * their reports are the package's main entry.
 */

// The repo's config, and the runner's colour rule so a pipeline's CLIs colour alike.
export { loadConfig, type ParsedConfig } from './config.ts';
export { colorEnabled } from './cli/color-support.ts';

// Open a target database: check a DATABASE_URL, open it, seal a scratch database.
export { openDatabaseUrl, parseDatabaseUrl, sealScratchDatabase, type Database } from './database/database.ts';

// Read the repo's snippets and their manifest.
export { discoverSnippetFiles } from './snippets/discovery.ts';
export { loadSnippets, type LoadedSnippet } from './snippets/load-snippets.ts';
export { readManifest, type ManifestDifference } from './snippets/manifest.ts';

// Rehearse: a base built from the service's schema, the ids to expect, each snippet's
// undo checked, and the report of a run a refusal stopped.
export { ensureServiceTemplate } from './service/service-schema-cache.ts';
export { expectedSnippetIds } from './rehearsal/expected-snippets.ts';
export { checkUndo, type UndoEvidence } from './rehearsal/undo-check.ts';
export { reportOfStoppedRun } from './commands/run.ts';

// Schema evidence: the schema's fingerprint before and after, and the service's schema version.
export { compareFingerprints, schemaFingerprint, type SchemaDifference } from './checks/schema-fingerprint.ts';
export { describeVersionSource, readRecordedVersions, readServiceJournal } from './service/service-migrations.ts';
