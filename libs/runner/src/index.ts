export { defineSnippet, defineSquash, isSnippet, isSquash } from './define-snippet.ts';
export type { Squash, SquashDefinition, SquashedSnippet, Snippet, SnippetContext, SnippetDb, SnippetDefinition, SnippetLogger, VerifyOutcome } from './define-snippet.ts';
export { defineConfig, packageDir } from './config.ts';
export type { SnippetsConfig } from './config.ts';
export { describeCause, ExitCode, InputError, SafetyRefusal, SnippetFailed, SnippetsError } from './errors.ts';
export type { RefusalCheck } from './errors.ts';
export { computeStatus, plan } from './plan.ts';
export type { Plan, PlanInput, Refusal, SnippetState, StatusEntry } from './plan.ts';
export { buildManifest, compareManifest } from './manifest.ts';
export type { Manifest } from './manifest.ts';
export type { RunReport } from './commands/run.ts';

// The commands load on their first call. Every snippet module imports this package for
// defineSnippet, and must not load what every command needs (the database drivers, the
// executor) with it: for a run with nothing to apply, that was a third of its start-up.
type StatusCommand = typeof import('./commands/status.ts').status;
type PlanCommand = typeof import('./commands/plan.ts').planCommand;
type RunCommand = typeof import('./commands/run.ts').run;
type HistoryCommand = typeof import('./commands/history.ts').history;
type VerifyCommand = typeof import('./commands/verify.ts').verify;
type RevertCommand = typeof import('./commands/revert.ts').revert;
type BaselineCommand = typeof import('./commands/baseline.ts').baseline;
type ManifestCommand = typeof import('./commands/manifest.ts').manifest;

export const status: StatusCommand = async (...args) => (await import('./commands/status.ts')).status(...args);
export const planCommand: PlanCommand = async (...args) => (await import('./commands/plan.ts')).planCommand(...args);
export const run: RunCommand = async (...args) => (await import('./commands/run.ts')).run(...args);
export const history: HistoryCommand = async (...args) => (await import('./commands/history.ts')).history(...args);
export const verify: VerifyCommand = async (...args) => (await import('./commands/verify.ts')).verify(...args);
export const revert: RevertCommand = async (...args) => (await import('./commands/revert.ts')).revert(...args);
export const baseline: BaselineCommand = async (...args) => (await import('./commands/baseline.ts')).baseline(...args);
export const manifest: ManifestCommand = async (...args) => (await import('./commands/manifest.ts')).manifest(...args);
export type { LedgerRow, EventRow, TableChanges } from './ledger.ts';
