/**
 * The runner's building blocks for tools built on it (the quality gates): the same
 * discovery, loading, execution and checks `snippets run` uses, so a rehearsal runs a
 * snippet exactly as production will.
 */
export { auditFromEnv } from './audit.ts';
export { colorEnabled } from './cli/color-support.ts';
export { loadConfig, type ParsedConfig } from './config.ts';
export { openDatabase, parseDatabaseUrl, sealScratchDatabase, type Database, type DatabaseTarget } from './database/database.ts';
export { queryRows } from './database/queries.ts';
export { discoverSnippetFiles, type SnippetFile } from './snippets/discovery.ts';
export { applySnippet, revertSnippet, withRollback, type ApplyResult, type ExecuteOptions } from './execution/executor.ts';
export { snippetStore, type SnippetStore } from './store/snippet-store.ts';
export type { TableChanges } from './checks/change-counts.ts';
export { isSquashFile, loadSnippets, type LoadedSnippet } from './snippets/load-snippets.ts';
export { compareManifest, MANIFEST_FILE, readManifest, type ManifestDifference } from './snippets/manifest.ts';
export { compareFingerprints, schemaFingerprint, type SchemaDifference } from './checks/schema-fingerprint.ts';
export { parseTableName, spellTable, tableName, tableRef, type QualifiedTable } from './snippets/table-names.ts';
export { buildServiceSchema, describeVersionSource, readRecordedVersions, readServiceJournal } from './service/service-migrations.ts';
export { reportOfStoppedRun, type RunReport } from './commands/run.ts';
export { ensureServiceTemplate, serviceTemplateName } from './service/service-schema-cache.ts';
export { checkUndo, type UndoEvidence } from './rehearsal/undo-check.ts';
