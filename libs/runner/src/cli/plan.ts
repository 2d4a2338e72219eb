// `snippets plan`: its flags and the list of what `run` would apply, with any refusals.
import { Option, type Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { colors, printJson } from './output.ts';
import { commandInput } from './command-input.ts';
import { expectFromGitOption, splitIds } from './expected-ids.ts';

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description('what `run` would do, in order (reads only)')
    .addOption(new Option('--expect <ids...>', 'the exact set of snippets expected to be pending'))
    .addOption(expectFromGitOption())
    .option('--json', 'machine-readable output')
    .action(async (opts: { expect?: string[]; expectFromGit?: string; json?: boolean }) => {
      const report = await (await import('../commands/plan.ts')).planCommand(commandInput(program), { expect: splitIds(opts.expect), expectFromGit: opts.expectFromGit });
      if (opts.json) {
        printJson({
          ...report,
          pending: report.pending.map((s) => ({
            id: s.id,
            description: s.definition.description,
            touches: s.definition.touches,
            dependsOn: s.definition.dependsOn,
            checksum: s.checksum,
            ...(report.inputs[s.id] ? { inputs: report.inputs[s.id] } : {}),
          })),
        });
      } else {
        console.log(`${colors.bold(report.repo)} on ${report.database}`);
        if (!report.pending.length) console.log('nothing to run: every snippet is applied');
        report.pending.forEach((s, i) => {
          console.log(`${i + 1}. ${colors.bold(s.id)}  ${s.definition.description}  ${colors.dim(`touches ${s.definition.touches.join(', ') || 'nothing'}`)}`);
          for (const [name, digest] of Object.entries(report.inputs[s.id] ?? {})) {
            console.log(digest ? colors.dim(`   reads input ${name}: ${digest.rows} rows, sha256 ${digest.sha256.slice(0, 12)}…`) : colors.yellow(`   reads input ${name}: not approved in snippets.lock (snippets input add ${name} FILE)`));
          }
        });
        for (const refusal of report.refusals) console.log(colors.red(`refused: ${refusal.message}`));
      }
      if (report.refusals.length) process.exitCode = ExitCode.refused;
    });
}
