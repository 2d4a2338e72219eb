// `snippets history`: its flags and the table of the audit trail.
import type { Command } from 'commander';
import type { TableChanges } from '../checks/change-counts.ts';
import { printJson, table } from './output.ts';
import { commandInput } from './command-input.ts';
import { formatChanges } from './row-changes.ts';

export function registerHistoryCommand(program: Command): void {
  program
    .command('history')
    .description('the audit trail: every attempt, result, refusal, baseline and revert')
    .argument('[id]', 'only this snippet')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      const report = await (await import('../commands/history.ts')).history(commandInput(program), id);
      if (opts.json) return printJson(report);
      if (!report.events.length) return console.log('no history yet');
      console.log(
        table([
          ['AT', 'EVENT', 'SNIPPET', 'BY', 'APPROVED BY', 'SERVICE', 'DETAIL'],
          ...report.events.map((e) => [
            e.at.toISOString(),
            e.kind,
            e.snippetId ?? '',
            e.executedBy ?? '',
            e.approvedBy ?? '',
            e.servicePackage ? `${e.servicePackage}@${e.serviceVersion ?? '?'}` : '',
            e.reason ?? (e.detail?.rowsChanged ? formatChanges(e.detail.rowsChanged as TableChanges) : ''),
          ]),
        ]),
      );
    });
}
