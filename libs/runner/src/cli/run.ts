// `snippets run`: its flags, the lines shown as it goes and at the end, its report files and how a signal stops it.
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { auditFromEnv } from '../audit.ts';
import type { RunReport } from '../commands/run.ts';
import { loadConfig } from '../config.ts';
import { ExitCode, RunInterrupted, SafetyRefusal } from '../errors.ts';
import { colors, printJson } from './output.ts';
import { runOutput } from './run-output.ts';
import type { RunRecord } from '../reports/run-report.ts';
import { undoneBy } from '../reports/undone-by.ts';
import { commandInput, repoDir } from './command-input.ts';
import { expectFromGitOption, splitIds } from './expected-ids.ts';
import { formatChanges } from './row-changes.ts';
import { linesTo, logSink } from './snippet-logs.ts';
import { stopOnSecondSignal } from './stop-signals.ts';
import { removeLocalCopiesSync } from '../inputs/local-copies.ts';

interface RunFlags {
  expect?: string[];
  expectFromGit?: string;
  dryRun?: boolean;
  workers: number;
  lock?: string;
  holder?: string;
  reportDir?: string;
  json?: boolean;
  input: string[];
}

function parseWorkers(value: string): number {
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new InvalidArgumentError('give a whole number from 1 to 64.');
  return workers;
}

function runOutcome(report: RunReport): [RunRecord['outcome'], string] {
  if (report.failed) return ['failed', report.failed.message];
  if (!report.applied.length) return ['nothing-to-run', 'nothing to run: every snippet is applied'];
  const verb = report.dryRun ? 'would apply (dry run, rolled back)' : 'applied';
  return ['applied', `${verb} ${report.applied.map((a) => a.id).join(', ')}`];
}

/** The lines of a run's result: helped, applied (committed), failed, not run. */
function printRunLines(report: RunReport): void {
  if (report.alreadyApplied.length) {
    console.log(colors.dim(`already applied before this run: ${report.alreadyApplied.map((a) => `${a.id}${a.finishedAt ? ` (${a.finishedAt})` : ''}`).join(', ')}`));
  }
  for (const h of report.helped) console.log(`${colors.cyan('⇉')} ${h.id}  helped: ${h.rows} rows in ${h.batches} batches`);
  // One write for all of them: a line at a time costs a system call each.
  const applied = report.applied.map((a) => `${colors.green('✓')} ${a.id}  ${formatChanges(a.rowsChanged)}  ${colors.dim(`${a.durationMs}ms`)}\n`);
  if (applied.length) process.stdout.write(applied.join(''));
  if (report.failed) console.log(colors.red(`✗ ${report.failed.message}`));
  const stopped = report.stopped;
  if (stopped?.id) {
    console.log(
      stopped.reason === 'interrupted'
        ? colors.yellow(`⏸ ${stopped.id}: interrupted; its finished batches are kept, run again to resume`)
        : colors.red(`✗ ${stopped.id}: ${stopped.reason}, ${undoneBy(stopped.batched)}`),
    );
  }
  if (report.notRun.length) console.log(colors.yellow(`not run: ${report.notRun.join(', ')}`));
  if (report.stopped && report.applied.length && !report.dryRun) console.log(`applied ${report.applied.length} snippet(s) before the run stopped; they are committed`);
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('apply every pending snippet, each exactly once, in its own transaction')
    .addOption(new Option('--expect <ids...>', 'refuse unless the pending set is exactly these ids (CI passes the merge\'s snippets)'))
    .addOption(expectFromGitOption())
    .option('--dry-run', 'run everything, then roll it all back; records nothing')
    .option('--workers <n>', "connections working a batched snippet's key ranges at once (PostgreSQL)", parseWorkers, 1)
    .option('--lock <name>', 'run only while holding this release lock, renewing its lease')
    .addOption(new Option('--holder <text>', 'the lease holder given to `snippets lock acquire`'))
    .option('--input <name=location>', 'where an input of the run is: a path, s3://bucket/key or https://… (repeat for each; SNIPPETS_INPUTS adds more)', (entry: string, all: string[]) => [...all, entry], [])
    .option('--report-dir <dir>', 'write report.json, junit.xml and summary.md there, whatever the outcome')
    .option('--json', 'machine-readable output')
    .action(async (opts: RunFlags) => {
      const json = Boolean(opts.json);
      // Under --json, stdout is the report alone: lines as they happen go to stderr.
      const live = json ? { write: linesTo(true), flush: () => {}, close: () => {} } : runOutput(process.stdout, { stopSignals: ['SIGHUP'] });
      const progress = (await import('./progress.ts')).progressReporter(Boolean(process.stderr.isTTY) && !json, (line) => live.write(`${line}\n`));
      const startedAt = new Date();
      const record = async (outcome: RunRecord['outcome'], message: string, runReport: RunReport | null) => {
        if (!opts.reportDir) return;
        // A run refused before it started has no report of its own; the config still names the repo.
        const repo = runReport?.repo ?? (await loadConfig(path.resolve(repoDir(program))).then((c) => c.repo, () => ''));
        const finishedAt = new Date().toISOString();
        await (await import('../reports/run-report.ts')).writeRunReports(opts.reportDir, { repo, outcome, message, startedAt: startedAt.toISOString(), finishedAt, audit: auditFromEnv(), expected: runReport?.expected ?? null, run: runReport });
      };
      // The first SIGINT or SIGTERM lets the snippet under way finish and stops before the
      // next, so the report can say what committed; a second one stops the process at once.
      const interruption = stopOnSecondSignal(
        () => {
          progress.stop();
          live.write(colors.yellow('stopping after the snippet under way, or the batch under way (signal again to stop now; it then rolls back)\n'));
        },
        () => {
          live.flush();
          removeLocalCopiesSync();
        },
      );
      const { run, reportOfStoppedRun } = await import('../commands/run.ts');
      const report = await run(commandInput(program), {
        expect: splitIds(opts.expect),
        expectFromGit: opts.expectFromGit,
        lock: opts.lock,
        holder: opts.holder,
        dryRun: opts.dryRun,
        workers: opts.workers,
        inputs: opts.input,
        signal: interruption.signal,
        onLog: logSink(live.write),
        onHelp: (s) => {
          progress.stop();
          if (!json) live.write(`${colors.cyan('⇉')} ${s.id}  ${colors.dim('helping the runner that holds the lock')}\n`);
        },
        onProgress: (p) => progress.update(p),
        onStart: (s) => {
          progress.stop();
          if (!json) live.write(`${colors.cyan('→')} ${s.id}  ${colors.dim(s.definition.description)}\n`);
        },
      })
        .catch(async (error: unknown) => {
          const stopped = reportOfStoppedRun(error);
          const outcome = error instanceof SafetyRefusal ? 'refused' : error instanceof RunInterrupted ? 'interrupted' : 'error';
          progress.stop();
          live.close();
          // What committed before the stop is shown and reported like any run's.
          if (stopped && !json) printRunLines(stopped);
          await record(outcome, error instanceof Error ? error.message : String(error), stopped ?? null);
          throw error;
        })
        .finally(() => {
          progress.stop();
          live.close();
          interruption.dispose();
        });
      await record(...runOutcome(report), report);
      if (json) printJson(report);
      else {
        printRunLines(report);
        const verb = report.dryRun ? 'would apply' : 'applied';
        if (!report.applied.length && !report.failed) console.log('nothing to run: every snippet is applied');
        else console.log(`${verb} ${report.applied.length} snippet(s)${report.dryRun ? ' (dry run: rolled back, nothing recorded)' : ''}`);
      }
      if (report.failed) process.exitCode = ExitCode.snippetFailed;
    });
}
