import { planCommand, run, SafetyRefusal, type RunReport, type TableChanges } from '@snippets/runner';
import {
  checkUndo,
  compareFingerprints,
  ensureServiceTemplate,
  expectedSnippetIds,
  openDatabaseUrl,
  readRecordedVersions,
  reportOfStoppedRun,
  schemaFingerprint,
  type Database,
  type LoadedSnippet,
  type ParsedConfig,
  type SchemaDifference,
  type UndoEvidence,
} from '@snippets/runner/engine';
import { detectDumpFormat, restoreDump } from './dumps.ts';
import { checkRecordedVersions } from './schema-version.ts';
import { withScratchDatabase } from './scratch-db.ts';

/** What a rehearsal starts from: a production dump, a template database, or the service's own schema (migrations or schema file). */
export type RehearsalBase = { kind: 'dump'; file: string } | { kind: 'template'; name: string } | { kind: 'service'; from: 'migrations' | 'schema file' };

export function describeBase(base: RehearsalBase): string {
  return base.kind === 'dump' ? `dump ${base.file}` : base.kind === 'template' ? `template ${base.name}` : `service ${base.from}`;
}

export type { UndoEvidence };

export interface SnippetRehearsal {
  id: string;
  /** applied: ran and verified; failed or refused: rolled back (a batched one keeps its finished batches); not-run: never begun (message says why). */
  outcome: 'applied' | 'failed' | 'refused' | 'not-run';
  /** Committed batch by batch: a failure keeps the batches it finished. */
  batched: boolean;
  /** The failed phase (up, verify, touches, commit) or the refusal's check. */
  phase?: string;
  message?: string;
  durationMs?: number;
  rowsChanged: TableChanges;
  touches: readonly string[];
  undo: UndoEvidence;
}

export interface RehearsalEvidence {
  base: string;
  setupMs: number;
  /** A refusal of the whole run before any snippet ran (stale manifest, history guard…). */
  refused?: { check: string; message: string };
  snippets: SnippetRehearsal[];
  schema: SchemaDifference;
}

/** A restored dump or a cloned template must be a database of this service, at a version it knows. */
async function checkSchemaVersion(database: Database, config: ParsedConfig, base: RehearsalBase, journal: Map<string, string>): Promise<void> {
  if (!config.service || base.kind === 'service') return;
  const { version } = config.service;
  if (version.kind === 'none') return;
  const recorded = await readRecordedVersions(database.db, version);
  checkRecordedVersions(describeBase(base), recorded ? { kind: 'rows', versions: [...recorded] } : { kind: 'absent' }, version, journal);
}

/** Why the snippets after the one that ended the run never began. */
function notRunReason(report: RunReport): string {
  if (report.failed) return `not run: ${report.failed.id} failed before it`;
  const stopped = report.stopped;
  if (stopped?.id) return `not run: the run stopped at ${stopped.id} (${stopped.reason})`;
  return `not run: ${stopped ? `the run stopped (${stopped.reason}): ${stopped.message}` : 'the run ended before it'}`;
}

/** A batched snippet commits batch by batch; a squash of batched ones is recorded at once. */
function committedInBatches(snippet: LoadedSnippet): boolean {
  return snippet.definition.transaction === 'batched' && !snippet.replaces;
}

/** Each pending snippet's outcome, from the run's report; complete also when an error stopped the run. */
function fromRunReport(report: RunReport, pending: LoadedSnippet[], undo: Map<string, UndoEvidence>): SnippetRehearsal[] {
  return pending.map((snippet) => {
    const base = {
      id: snippet.id,
      batched: committedInBatches(snippet),
      touches: snippet.definition.touches,
      undo: undo.get(snippet.id) ?? ({ reversible: false } as UndoEvidence),
    };
    const applied = report.applied.find((a) => a.id === snippet.id);
    if (applied) return { ...base, outcome: 'applied', durationMs: applied.durationMs, rowsChanged: applied.rowsChanged };
    if (report.failed?.id === snippet.id) {
      return { ...base, outcome: 'failed', phase: report.failed.phase, message: report.failed.message, rowsChanged: report.failed.rowsChanged ?? {} };
    }
    const stopped = report.stopped;
    if (stopped?.id === snippet.id) {
      return { ...base, outcome: stopped.reason === 'refused' ? 'refused' : 'failed', phase: stopped.check, message: stopped.message, rowsChanged: {} };
    }
    return { ...base, outcome: 'not-run', message: notRunReason(report), rowsChanged: {} };
  });
}

/**
 * Rehearses the pending snippets on a scratch copy of `base` exactly as production will run
 * them (the same `snippets run`), with the schema fingerprinted before and after and each
 * snippet's undo checked first. The scratch database is always dropped.
 */
export async function rehearse(
  input: { repoDir: string; config: ParsedConfig; serverUrl: string; journal: Map<string, string> },
  base: RehearsalBase,
): Promise<RehearsalEvidence> {
  const format = base.kind === 'dump' ? await detectDumpFormat(base.file) : undefined;
  // The service's own schema is built once per version, as a template the scratch database clones.
  const template = base.kind === 'template' ? base.name : base.kind === 'service' && input.config.service ? await ensureServiceTemplate(input.serverUrl, input.config.service) : undefined;
  return withScratchDatabase(input.serverUrl, { template }, async (scratch) => {
    const started = performance.now();
    if (base.kind === 'dump') await restoreDump(base.file, format!, scratch.url);
    // Snippet code that gets past the runner's connection guard is refused by the server.
    await scratch.seal();
    const database = await openDatabaseUrl(scratch.url, input.repoDir);
    const env = { ...process.env, DATABASE_URL: scratch.url };
    try {
      const setupMs = performance.now() - started;
      await checkSchemaVersion(database, input.config, base, input.journal);

      const ids = await expectedSnippetIds(database, input.repoDir, input.config);
      const plan = await planCommand({ cwd: input.repoDir, env }, { expect: ids });
      const schemaBefore = await schemaFingerprint(database.db);
      if (plan.refusals.length) {
        const [first] = plan.refusals;
        const reason = `not run: the rehearsal was refused (${first!.check})`;
        const snippets = plan.pending.map((s): SnippetRehearsal => ({ id: s.id, outcome: 'not-run', batched: committedInBatches(s), message: reason, rowsChanged: {}, touches: s.definition.touches, undo: { reversible: 'unknown', reason } }));
        return { base: describeBase(base), setupMs, refused: { check: first!.check, message: first!.message }, snippets, schema: { added: [], removed: [] } };
      }
      const undo = await checkUndo(database, input.config, plan.pending);

      let report: RunReport;
      try {
        report = await run({ cwd: input.repoDir, env }, { expect: plan.pending.map((s) => s.id), onLog: () => {}, rehearsal: true });
      } catch (error) {
        // A refusal mid-run (a schema change, say) leaves the snippets before it applied.
        const stopped = error instanceof SafetyRefusal ? reportOfStoppedRun(error) : undefined;
        if (!stopped) throw error;
        report = stopped;
      }
      const snippets = fromRunReport(report, plan.pending, undo);
      // A refusal before the first snippet (the plan's checks under the lock) is the whole run's.
      const refused = report.stopped && !report.stopped.id ? { check: report.stopped.check ?? report.stopped.reason, message: report.stopped.message } : undefined;
      const schema = compareFingerprints(schemaBefore, await schemaFingerprint(database.db));
      return { base: describeBase(base), setupMs, refused, snippets, schema };
    } finally {
      await database.close();
    }
  });
}
