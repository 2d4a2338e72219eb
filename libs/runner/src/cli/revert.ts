// `snippets revert`: its flags and the line saying what the revert changed.
import type { Command } from 'commander';
import { colors, printJson } from './output.ts';
import { commandInput } from './command-input.ts';
import { formatChanges } from './row-changes.ts';
import { linesTo, logSink } from './snippet-logs.ts';

export function registerRevertCommand(program: Command): void {
  program
    .command('revert')
    .description("last resort: run a snippet's down() and mark it reverted (audited)")
    .argument('<id>', 'the applied snippet to revert')
    .requiredOption('--reason <text>', 'why; recorded in the audit trail')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      const report = await (await import('../commands/revert.ts')).revert(commandInput(program), id, opts.reason, logSink(linesTo(Boolean(opts.json))));
      if (opts.json) return printJson(report);
      console.log(`${colors.magenta('↶')} reverted ${report.id}  ${formatChanges(report.rowsChanged)}  reason: ${report.reason}`);
    });
}
