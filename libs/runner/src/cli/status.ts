// `snippets status`: its flags and the table of each snippet's state.
import type { Command } from 'commander';
import { colors, printJson, table } from './output.ts';
import type { SnippetState } from '../planning/plan.ts';
import { commandInput } from './command-input.ts';

const STATE_COLOR: Record<SnippetState, (s: string) => string> = {
  applied: colors.green,
  baselined: colors.cyan,
  reverted: colors.magenta,
  squashed: colors.cyan,
  pending: colors.yellow,
  changed: colors.red,
  missing: colors.red,
};

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('applied / pending / changed / missing, per snippet')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const report = await (await import('../commands/status.ts')).status(commandInput(program));
      if (opts.json) return printJson(report);
      console.log(`${colors.bold(report.repo)} on ${report.database}`);
      if (!report.snippets.length) return console.log('no snippets');
      console.log(
        table([
          ['ID', 'STATE', 'WHEN', 'BY'],
          ...report.snippets.map((s) => [
            s.id,
            STATE_COLOR[s.state](s.state) + (s.progress ? colors.dim(` (${s.progress.rows} rows in ${s.progress.batches} batches so far)`) : ''),
            s.row?.finishedAt?.toISOString() ?? s.progress?.updatedAt.toISOString() ?? '',
            s.row?.executedBy ?? '',
          ]),
        ]),
      );
    });
}
