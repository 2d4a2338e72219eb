// `snippets baseline`: its flags and a line per snippet it marks applied.
import type { Command } from 'commander';
import { colors, printJson } from './output.ts';
import { commandInput } from './command-input.ts';

export function registerBaselineCommand(program: Command): void {
  program
    .command('baseline')
    .description('mark every snippet up to --through as applied without running it')
    .requiredOption('--through <id>', 'the last snippet whose effect this database already has')
    .option('--json', 'machine-readable output')
    .action(async (opts: { through: string; json?: boolean }) => {
      const report = await (await import('../commands/baseline.ts')).baseline(commandInput(program), opts.through);
      if (opts.json) return printJson(report);
      if (!report.baselined.length) return console.log(`nothing to baseline: everything through ${opts.through} is recorded`);
      for (const id of report.baselined) console.log(`${colors.cyan('=')} ${id}  baselined`);
    });
}
