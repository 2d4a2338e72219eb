import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import junitModule, { type Builder } from 'junit-report-builder';
import type { AuditContext } from '../audit.ts';
import { undoneBy } from './undone-by.ts';
import type { RunReport } from '../commands/run.ts';
import type { TableChanges } from '../checks/change-counts.ts';

/** What a production run leaves for the pipeline: report.json, junit.xml and summary.md. */
export interface RunRecord {
  repo: string;
  outcome: 'applied' | 'nothing-to-run' | 'failed' | 'refused' | 'interrupted' | 'error';
  /** One line: what happened, or why it did not. */
  message: string;
  startedAt: string;
  finishedAt: string;
  audit: AuditContext;
  expected: string[] | null;
  /** What the run did, also when it was stopped: its `applied` snippets committed. Null when it stopped before it had a database. */
  run: RunReport | null;
}

// The package is CommonJS; its module.exports is the builder itself.
const junit = junitModule as unknown as Builder;

const changes = (c: TableChanges) =>
  Object.entries(c)
    .map(([table, n]) => `${table} +${n.inserted} ~${n.updated} -${n.deleted}`)
    .join(', ') || 'no rows changed';

/** One case per snippet the run meant to apply: passed, failed or skipped; a refusal is one failed case. */
export function renderRunJunit(record: RunRecord): string {
  const builder = junit.newBuilder().name(`snippets run ${record.repo}`);
  const suite = builder.testSuite().name(`snippets run ${record.repo}`).timestamp(record.startedAt);
  const className = `snippets.${record.repo}`;
  for (const applied of record.run?.applied ?? []) {
    suite.testCase().className(className).name(applied.id).time(applied.durationMs / 1000).standardOutput(changes(applied.rowsChanged));
  }
  if (record.run?.failed) suite.testCase().className(className).name(record.run.failed.id).failure(record.run.failed.message, record.run.failed.phase);
  const stopped = record.run?.stopped;
  if (stopped?.id) suite.testCase().className(className).name(stopped.id).failure(stopped.message, stopped.reason);
  for (const id of record.run?.notRun ?? []) suite.testCase().className(className).name(id).skipped();
  if (!stopped?.id && (record.outcome === 'refused' || record.outcome === 'interrupted' || record.outcome === 'error')) {
    suite.testCase().className(className).name('run').failure(record.message, record.outcome);
  }
  return builder.build();
}

const ICON: Record<RunRecord['outcome'], string> = { applied: '✅', 'nothing-to-run': '✅', failed: '❌', refused: '⛔', interrupted: '⏹️', error: '❌' };

function stoppedResult(stopped: NonNullable<RunReport['stopped']>): string {
  return stopped.reason === 'interrupted' ? 'interrupted: finished batches kept, run again to resume' : `${stopped.reason}, ${undoneBy(stopped.batched)}`;
}

export function renderRunSummary(record: RunRecord): string {
  const lines = [`## Snippets run: ${ICON[record.outcome]} ${record.outcome} (${record.repo})`, '', record.message, ''];
  const audit = record.audit;
  lines.push(`Run by ${audit.executedBy} on ${audit.host}${audit.approvedBy ? `, approved by ${audit.approvedBy}` : ''}${audit.gitSha ? `, at ${audit.gitSha}` : ''}${audit.image ? `, image ${audit.image}` : ''}.`, '');
  const run = record.run;
  if (run && (run.applied.length || run.failed || run.stopped?.id || run.notRun.length || run.alreadyApplied.length)) {
    lines.push('| snippet | result | duration | rows changed |', '| --- | --- | --- | --- |');
    // An expected snippet an earlier run committed (one that was killed, say) is not lost from view.
    for (const a of run.alreadyApplied) lines.push(`| ${a.id} | applied before this run${a.finishedAt ? ` (${a.finishedAt})` : ''} | | |`);
    const appliedResult = run.dryRun ? 'would apply (rolled back)' : 'applied';
    for (const a of run.applied) lines.push(`| ${a.id} | ${appliedResult} | ${a.durationMs} ms | ${changes(a.rowsChanged)} |`);
    if (run.failed) lines.push(`| ${run.failed.id} | failed (${run.failed.phase}) | | ${undoneBy(run.failed.batched)} |`);
    if (run.stopped?.id) lines.push(`| ${run.stopped.id} | ${stoppedResult(run.stopped)} | | |`);
    for (const id of run.notRun) lines.push(`| ${id} | not run | | |`);
    if (run.stopped && run.applied.length && !run.dryRun) lines.push('', `The ${run.applied.length} applied snippet(s) committed before the run stopped.`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the three files whole or not at all: each goes to a temporary name first. */
export async function writeRunReports(dir: string, record: RunRecord): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = {
    'report.json': `${JSON.stringify(record, null, 2)}\n`,
    'junit.xml': renderRunJunit(record),
    'summary.md': renderRunSummary(record),
  };
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(`${file}.tmp`, content);
    await rename(`${file}.tmp`, file);
  }
}
