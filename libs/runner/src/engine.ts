/**
 * The runner's building blocks for tools built on it (the quality gates): the same
 * discovery, loading, execution and checks `snippets run` uses, so a rehearsal runs a
 * snippet exactly as production will.
 */
export { auditFromEnv } from './audit.ts';
export { colorEnabled } from './color-support.ts';
export { loadConfig, type ParsedConfig } from './config.ts';
export { openDatabase, parseDatabaseUrl, sealScratchDatabase, type Database, type DatabaseTarget } from './database.ts';
export { queryRows } from './queries.ts';
export { discoverSnippetFiles, type SnippetFile } from './discovery.ts';
export { applySnippet, revertSnippet, withRollback, type ApplyResult, type ExecuteOptions } from './executor.ts';
export { snippetStore, type SnippetStore } from './store/snippet-store.ts';
export type { TableChanges } from './change-counts.ts';
export { isSquashFile, loadSnippets, type LoadedSnippet } from './load-snippets.ts';
export { compareManifest, MANIFEST_FILE, readManifest, type ManifestDifference } from './manifest.ts';
export { compareFingerprints, schemaFingerprint, type SchemaDifference } from './schema-fingerprint.ts';
export { parseTableName, spellTable, tableName, tableRef, type QualifiedTable } from './table-names.ts';
export { buildServiceSchema, describeVersionSource, readRecordedVersions, readServiceJournal } from './service-migrations.ts';
export { reportOfStoppedRun, type RunReport } from './commands/run.ts';
export { ensureServiceTemplate, serviceTemplateName } from './service-schema-cache.ts';
