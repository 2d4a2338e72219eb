import { Command, CommanderError } from 'commander';
import pc from 'picocolors';
import { describeCause, ExitCode, SnippetsError } from '@snippets/runner';
import { colorEnabled } from '@snippets/runner/engine';
import { check } from './check.ts';
import { dropAllScratchDatabases } from './scratch-db.ts';

// The runner's rule, so both CLIs of a pipeline colour alike.
const colors = pc.createColors(colorEnabled(process.env, Boolean(process.stdout.isTTY)));

function buildProgram(): Command {
  const program = new Command('snippet-gates')
    .description('Prove the pending snippets of a snippet repo before they merge')
    .option('-C, --cwd <dir>', 'the snippet repo', process.cwd())
    .exitOverride();

  program
    .command('check')
    .description('run every gate and write report.json, junit.xml and summary.md')
    .option('--dump <file>', 'a pg_dump (custom, directory or plain) to rehearse on; repeatable', (v: string, all: string[]) => [...all, v], [])
    .option('--template-db <name>', 'a database on the server to clone for the rehearsal')
    .option('--report-dir <dir>', 'where to write the reports')
    .option('--only <gates>', 'comma-separated gates to run', (v: string, all: string[]) => [...all, v], [])
    .option('--budget <duration>', "a snippet's rehearsal budget before it should be batched", '5m')
    .action(async (opts: { dump: string[]; templateDb?: string; reportDir?: string; only: string[]; budget: string }) => {
      const { report, files } = await check({
        repoDir: program.opts<{ cwd: string }>().cwd,
        dumps: opts.dump,
        templateDb: opts.templateDb,
        reportDir: opts.reportDir,
        only: opts.only,
        budget: opts.budget,
      });
      for (const gate of report.gates) {
        const mark = gate.status === 'passed' ? colors.green('✓') : gate.status === 'not-checked' ? colors.yellow('?') : colors.red('✗');
        console.log(`${mark} ${gate.gate}${gate.base ? ` on ${gate.base}` : ''}: ${gate.summary}`);
        for (const detail of gate.details) console.log(`    ${detail.replaceAll('\n', '\n    ')}`);
        for (const why of gate.notChecked) console.log(`    not checked: ${why}`);
      }
      for (const file of files) console.log(colors.dim(`wrote ${file}`));
      const unchecked = report.gates.some((g) => g.status === 'not-checked');
      console.log(report.passed ? colors.green('all gates passed') : colors.red(unchecked ? 'gates failed or could not check every snippet' : 'gates failed'));
      if (!report.passed) process.exitCode = ExitCode.snippetFailed;
    });
  return program;
}

/** The only place errors become exit codes: 0 all passed, 1 a gate failed or did not check every snippet, 2 bad input. */
export async function main(argv: string[]): Promise<number> {
  // An interrupted rehearsal must not leave scratch databases behind. Dropping them ends
  // the rehearsal's own connections, whose clients then fail: those errors are expected.
  const interrupt = (signal: NodeJS.Signals) => {
    process.on('uncaughtException', () => {});
    void dropAllScratchDatabases().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? ExitCode.ok);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    if (error instanceof SnippetsError && error.exitCode === ExitCode.badInput) {
      process.stderr.write(`${colors.red('snippet-gates:')} ${error.message}\n`);
      return ExitCode.badInput;
    }
    process.stderr.write(`${colors.red('snippet-gates: unexpected error:')} ${describeCause(error)}\n`);
    if (process.env.SNIPPETS_DEBUG) console.error(error);
    return ExitCode.snippetFailed;
  }
}
