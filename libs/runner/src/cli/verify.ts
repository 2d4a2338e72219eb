// `snippets verify`: its flags and a line per applied snippet's post-check.
import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { colors, printJson } from './output.ts';
import { commandInput } from './command-input.ts';
import { linesTo, logSink } from './snippet-logs.ts';

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description("re-run applied snippets' post-checks (read-only)")
    .argument('[id]', 'only this snippet')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      const report = await (await import('../commands/verify.ts')).verify(commandInput(program), id, logSink(linesTo(Boolean(opts.json))));
      const failed = report.results.filter((r) => r.result && !r.result.ok);
      if (opts.json) printJson(report);
      else {
        for (const { id: sid, result } of report.results) {
          if (!result) console.log(`${colors.dim('-')} ${sid}  no verify()`);
          else console.log(result.ok ? `${colors.green('✓')} ${sid}` : colors.red(`✗ ${result.message ?? `${sid}: verify failed`}`));
        }
        if (!report.results.length) console.log('no applied snippets to verify');
      }
      if (failed.length) process.exitCode = ExitCode.snippetFailed;
    });
}
