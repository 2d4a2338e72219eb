export { defineSnippet, defineSquash, isSnippet, isSquash } from './snippets/define-snippet.ts';
export { csv, json, ndjson } from './inputs/declare-input.ts';
export type { ColumnSpec, ColumnType, InputDeclaration, InputRow, InputRows } from './inputs/declare-input.ts';
export type { BatchKey, BatchResult, BatchSpec, BatchWork, InputBatchSpec, InputBatchWork, Squash, SquashDefinition, SquashedSnippet, Snippet, SnippetContext, SnippetDb, SnippetDefinition, SnippetLogger, VerifyOutcome } from './snippets/define-snippet.ts';
export type { ColumnInput, QualifiedTable, TableInput } from './snippets/table-names.ts';
export type { DeleteSafelyOptions, ImpactReport, TableImpact } from './snippets/impact-report.ts';
export { defineConfig, packageDir } from './config.ts';
export type { SnippetsConfig } from './config.ts';
export { describeCause, ExitCode, InputError, RunInterrupted, SafetyRefusal, SnippetFailed, SnippetsError } from './errors.ts';
export type { RefusalCheck } from './errors.ts';
export { computeStatus, plan } from './planning/plan.ts';
export type { Plan, PlanInput, Refusal, SnippetState, StatusEntry } from './planning/plan.ts';
export { buildManifest, compareManifest } from './snippets/manifest.ts';
export type { Manifest } from './snippets/manifest.ts';
export type { RunReport } from './commands/run.ts';

// The commands load on their first call. Every snippet module imports this package for
// defineSnippet, and must not load what every command needs (the database drivers, the
// executor) with it: for a run with nothing to apply, that was a third of its start-up.
const onFirstCall =
  <Command extends (...args: never[]) => Promise<unknown>>(load: () => Promise<Command>) =>
  (async (...args: Parameters<Command>) => (await load())(...args)) as Command;

export const status = onFirstCall(async () => (await import('./commands/status.ts')).status);
export const planCommand = onFirstCall(async () => (await import('./commands/plan.ts')).planCommand);
export const run = onFirstCall(async () => (await import('./commands/run.ts')).run);
export const history = onFirstCall(async () => (await import('./commands/history.ts')).history);
export const verify = onFirstCall(async () => (await import('./commands/verify.ts')).verify);
export const revert = onFirstCall(async () => (await import('./commands/revert.ts')).revert);
export const baseline = onFirstCall(async () => (await import('./commands/baseline.ts')).baseline);
export const manifest = onFirstCall(async () => (await import('./commands/manifest.ts')).manifest);
export type { LedgerRow, EventRow } from './store/ledger-schema.ts';
export type { TableChanges } from './checks/change-counts.ts';
