import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import junitModule, { type Builder } from 'junit-report-builder';
import type { GateResult } from './evaluate.ts';
import type { RehearsalEvidence } from './rehearsal.ts';

export interface GatesReport {
  repo: string;
  passed: boolean;
  startedAt: string;
  durationMs: number;
  gates: GateResult[];
  rehearsals: RehearsalEvidence[];
}

// The package is CommonJS; its module.exports is the builder itself.
const junit = junitModule as unknown as Builder;

const caseName = (r: GateResult) => (r.base ? `${r.gate} on ${r.base}` : r.gate);

const STATUS_CELL: Record<GateResult['status'], string> = { passed: '✅ passed', failed: '❌ failed', 'not-checked': '⚠️ not checked' };

/** JUnit XML: one suite per gate, one case per gate result, read by Jenkins and GitHub. */
export function renderJunit(report: GatesReport): string {
  const builder = junit.newBuilder().name(`snippet-gates ${report.repo}`);
  for (const gate of [...new Set(report.gates.map((g) => g.gate))]) {
    const suite = builder.testSuite().name(gate).timestamp(report.startedAt);
    for (const result of report.gates.filter((g) => g.gate === gate)) {
      const testCase = suite.testCase().className(`snippet-gates.${report.repo}`).name(caseName(result));
      const notChecked = result.notChecked.map((why) => `not checked: ${why}`);
      const output = [...result.details, ...notChecked].join('\n');
      // A gate that could not check every snippet is not a pass: CI must not show it green.
      if (result.status !== 'passed') testCase.failure(result.summary, result.status === 'failed' ? gate : 'not-checked').standardOutput(output);
      else if (output) testCase.standardOutput(output);
    }
  }
  return builder.build();
}

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** The pull-request comment: the gates, then rows changed and durations per snippet. */
export function renderSummary(report: GatesReport): string {
  const lines = [
    `## Snippet gates: ${report.passed ? '✅ passed' : report.gates.some((g) => g.status === 'failed') ? '❌ failed' : '⚠️ not every snippet was checked'} (${report.repo})`,
    '',
    '| gate | on | result | detail |',
    '| --- | --- | --- | --- |',
    ...report.gates.map(
      (g) => `| ${g.gate} | ${g.base ?? ''} | ${STATUS_CELL[g.status]} | ${escapeCell([g.summary, ...g.details, ...g.notChecked.map((why) => `not checked: ${why}`)].join('; '))} |`,
    ),
  ];
  for (const rehearsal of report.rehearsals) {
    lines.push('', `### Rehearsal on ${rehearsal.base} (set up in ${Math.round(rehearsal.setupMs)} ms)`, '');
    if (rehearsal.refused) lines.push(`Refused: ${rehearsal.refused.message}`, '');
    if (!rehearsal.snippets.length) {
      lines.push('No pending snippets.');
      continue;
    }
    const ran = rehearsal.snippets.filter((s) => s.outcome === 'applied').length;
    lines.push(`${ran} of ${rehearsal.snippets.length} pending snippet(s) ran and verified.`, '');
    lines.push('| snippet | outcome | duration | table | inserted | updated | deleted |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const s of rehearsal.snippets) {
      const tables = Object.entries(s.rowsChanged);
      const duration = s.durationMs === undefined ? '' : `${Math.round(s.durationMs)} ms`;
      // A snippet that did not apply says why (its changes rolled back, a batched one's finished batches kept).
      const outcome = s.outcome === 'applied' ? 'applied' : escapeCell(`${s.outcome}${s.phase ? ` (${s.phase})` : ''}${s.outcome === 'not-run' && s.message ? `: ${s.message.replace(/^not run: /, '')}` : ''}`);
      if (!tables.length) lines.push(`| ${s.id} | ${outcome} | ${duration} | | | | |`);
      tables.forEach(([table, c], i) =>
        lines.push(`| ${i ? '' : s.id} | ${i ? '' : outcome} | ${i ? '' : duration} | ${table} | ${c.inserted} | ${c.updated} | ${c.deleted} |`),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function writeReports(dir: string, report: GatesReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = {
    'report.json': `${JSON.stringify(report, null, 2)}\n`,
    'junit.xml': renderJunit(report),
    'summary.md': renderSummary(report),
  };
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
  return Object.keys(files).map((name) => path.join(dir, name));
}
