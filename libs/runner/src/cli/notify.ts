// `snippets notify`: its flags; the command itself prints what it posted.
import { Option, type Command } from 'commander';
import { commandInput } from './command-input.ts';

export function registerNotifyCommand(program: Command): void {
  program
    .command('notify')
    .description("post the run's outcome to the configured webhooks (never fails the pipeline)")
    .requiredOption('--report-dir <dir>', 'where `snippets run --report-dir` wrote its report')
    .addOption(new Option('--outcome <outcome>', 'when there is no report: how the pipeline ended').choices(['success', 'failure']))
    .option('--message <text>', 'when there is no report: what happened')
    .action(async (opts: { reportDir: string; outcome?: 'success' | 'failure'; message?: string }) => {
      await (await import('../reports/notify-command.ts')).notify(commandInput(program), { ...opts, log: (line) => console.log(line) });
    });
}
