import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from './config.ts';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { RunReport } from './commands/run.ts';
import { auditFromEnv } from './audit.ts';
import { undoneBy, type RunRecord } from './run-report.ts';
import { describeCause, ExitCode, RunInterrupted, SafetyRefusal, SnippetsError } from './errors.ts';
import type { TableChanges } from './ledger.ts';
import { colors, printJson, table } from './output.ts';
import { runOutput } from './run-output.ts';
import { commandInput, repoDir } from './cli/command-input.ts';
import { expectFromGitOption, splitIds } from './cli/expected-ids.ts';
import { formatChanges } from './cli/row-changes.ts';
import { linesTo, logSink } from './cli/snippet-logs.ts';
import { stopOnSecondSignal } from './cli/stop-signals.ts';
import type { SnippetState } from './plan.ts';

const STATE_COLOR: Record<SnippetState, (s: string) => string> = {
  applied: colors.green,
  baselined: colors.cyan,
  reverted: colors.magenta,
  squashed: colors.cyan,
  pending: colors.yellow,
  changed: colors.red,
  missing: colors.red,
};

interface RunFlags {
  expect?: string[];
  expectFromGit?: string;
  dryRun?: boolean;
  workers: number;
  lock?: string;
  holder?: string;
  reportDir?: string;
  json?: boolean;
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

function parseWorkers(value: string): number {
  const workers = Number(value);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new InvalidArgumentError('give a whole number from 1 to 64.');
  return workers;
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

function buildProgram(): Command {
  const program = new Command('snippets')
    .version(version)
    .description('Reviewed, exactly-once production data changes: run and audit the snippets of this repo')
    .option('-C, --cwd <dir>', 'the snippet repo to work in', process.cwd())
    .showHelpAfterError('(run snippets --help for usage)')
    .exitOverride();
  const input = () => commandInput(program);

  program
    .command('status')
    .description('applied / pending / changed / missing, per snippet')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const report = await (await import('./commands/status.ts')).status(input());
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

  program
    .command('plan')
    .description('what `run` would do, in order (reads only)')
    .addOption(new Option('--expect <ids...>', 'the exact set of snippets expected to be pending'))
    .addOption(expectFromGitOption())
    .option('--json', 'machine-readable output')
    .action(async (opts: { expect?: string[]; expectFromGit?: string; json?: boolean }) => {
      const report = await (await import('./commands/plan.ts')).planCommand(input(), { expect: splitIds(opts.expect), expectFromGit: opts.expectFromGit });
      if (opts.json) {
        printJson({
          ...report,
          pending: report.pending.map((s) => ({ id: s.id, description: s.definition.description, touches: s.definition.touches, dependsOn: s.definition.dependsOn, checksum: s.checksum })),
        });
      } else {
        console.log(`${colors.bold(report.repo)} on ${report.database}`);
        if (!report.pending.length) console.log('nothing to run: every snippet is applied');
        report.pending.forEach((s, i) =>
          console.log(`${i + 1}. ${colors.bold(s.id)}  ${s.definition.description}  ${colors.dim(`touches ${s.definition.touches.join(', ') || 'nothing'}`)}`),
        );
        for (const refusal of report.refusals) console.log(colors.red(`refused: ${refusal.message}`));
      }
      if (report.refusals.length) process.exitCode = ExitCode.refused;
    });

  program
    .command('run')
    .description('apply every pending snippet, each exactly once, in its own transaction')
    .addOption(new Option('--expect <ids...>', 'refuse unless the pending set is exactly these ids (CI passes the merge\'s snippets)'))
    .addOption(expectFromGitOption())
    .option('--dry-run', 'run everything, then roll it all back; records nothing')
    .option('--workers <n>', "connections working a batched snippet's key ranges at once (PostgreSQL)", parseWorkers, 1)
    .option('--lock <name>', 'run only while holding this release lock, renewing its lease')
    .addOption(new Option('--holder <text>', 'the lease holder given to `snippets lock acquire`'))
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
        const repo = runReport?.repo ?? (await loadConfig(path.resolve(input().cwd)).then((c) => c.repo, () => ''));
        const finishedAt = new Date().toISOString();
        await (await import('./run-report.ts')).writeRunReports(opts.reportDir, { repo, outcome, message, startedAt: startedAt.toISOString(), finishedAt, audit: auditFromEnv(), expected: runReport?.expected ?? null, run: runReport });
      };
      // The first SIGINT or SIGTERM lets the snippet under way finish and stops before the
      // next, so the report can say what committed; a second one stops the process at once.
      const interruption = stopOnSecondSignal(
        () => {
          progress.stop();
          live.write(colors.yellow('stopping after the snippet under way, or the batch under way (signal again to stop now; it then rolls back)\n'));
        },
        () => live.flush(),
      );
      const { run, reportOfStoppedRun } = await import('./commands/run.ts');
      const report = await run(input(), {
        expect: splitIds(opts.expect),
        expectFromGit: opts.expectFromGit,
        lock: opts.lock,
        holder: opts.holder,
        dryRun: opts.dryRun,
        workers: opts.workers,
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

  program
    .command('history')
    .description('the audit trail: every attempt, result, refusal, baseline and revert')
    .argument('[id]', 'only this snippet')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      const report = await (await import('./commands/history.ts')).history(input(), id);
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

  program
    .command('verify')
    .description("re-run applied snippets' post-checks (read-only)")
    .argument('[id]', 'only this snippet')
    .option('--json', 'machine-readable output')
    .action(async (id: string | undefined, opts: { json?: boolean }) => {
      const report = await (await import('./commands/verify.ts')).verify(input(), id, logSink(linesTo(Boolean(opts.json))));
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

  program
    .command('revert')
    .description("last resort: run a snippet's down() and mark it reverted (audited)")
    .argument('<id>', 'the applied snippet to revert')
    .requiredOption('--reason <text>', 'why; recorded in the audit trail')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { reason: string; json?: boolean }) => {
      const report = await (await import('./commands/revert.ts')).revert(input(), id, opts.reason, logSink(linesTo(Boolean(opts.json))));
      if (opts.json) return printJson(report);
      console.log(`${colors.magenta('↶')} reverted ${report.id}  ${formatChanges(report.rowsChanged)}  reason: ${report.reason}`);
    });

  program
    .command('baseline')
    .description('mark every snippet up to --through as applied without running it')
    .requiredOption('--through <id>', 'the last snippet whose effect this database already has')
    .option('--json', 'machine-readable output')
    .action(async (opts: { through: string; json?: boolean }) => {
      const report = await (await import('./commands/baseline.ts')).baseline(input(), opts.through);
      if (opts.json) return printJson(report);
      if (!report.baselined.length) return console.log(`nothing to baseline: everything through ${opts.through} is recorded`);
      for (const id of report.baselined) console.log(`${colors.cyan('=')} ${id}  baselined`);
    });

  program
    .command('impact')
    .description('what a delete would remove, null or be blocked by through foreign keys (read-only)')
    .requiredOption('--table <table>', 'the table rows would be deleted from')
    .requiredOption('--where <sql>', 'the condition of the delete')
    .option('--json', 'machine-readable output')
    .action(async (opts: { table: string; where: string; json?: boolean }) => {
      const report = await (await import('./commands/impact.ts')).impact(input(), opts.table, opts.where);
      if (opts.json) return printJson(report);
      console.log(`delete from ${report.table} where ${opts.where}:`);
      if (!report.tables.length) console.log('no rows');
      else
        console.log(
          table([
            ['TABLE', 'DELETED', 'NULLED', 'DEFAULTED', 'SAMPLE KEYS'],
            ...report.tables.map((t) => [t.table, String(t.deleted), String(t.nulled), String(t.defaulted), t.sample.join('; ')]),
          ]),
        );
      for (const b of report.blocked) console.log(colors.red(`blocked: ${b.rows} row(s) of ${b.table} reference ${b.references} through ${b.constraint} (e.g. ${b.sample.join('; ')})`));
    });

  const lock = program.command('lock').description('the release lock: a lease that keeps service releases and snippet runs apart');
  const holderOption = new Option('--holder <text>', 'who holds it (default SNIPPETS_LOCK_HOLDER, the CI run URL, or user@host)');
  lock
    .command('acquire')
    .description('take the lease, waiting up to --wait for its holder')
    .requiredOption('--name <name>', 'the lock, e.g. releases')
    .addOption(holderOption)
    .option('--ttl <duration>', 'how long the lease lasts without renewal', '30m')
    .option('--wait <duration>', 'how long to wait for the holder to let go', '0s')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; holder?: string; ttl: string; wait: string; json?: boolean }) => {
      const { lockAcquire, parseDuration } = await import('./commands/lock.ts');
      const lease = await lockAcquire(input(), { name: opts.name, holder: opts.holder, ttlMs: parseDuration('--ttl', opts.ttl), waitMs: parseDuration('--wait', opts.wait) });
      if (opts.json) return printJson(lease);
      console.log(`${colors.green('🔒')} ${lease.name} held by ${lease.holder} until ${lease.expiresAt.toISOString()}`);
    });
  lock
    .command('release')
    .description('give the lease up (fine when not held; refused when someone else holds it)')
    .requiredOption('--name <name>', 'the lock, e.g. releases')
    .addOption(holderOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; holder?: string; json?: boolean }) => {
      const result = await (await import('./commands/lock.ts')).lockRelease(input(), { name: opts.name, holder: opts.holder });
      if (opts.json) return printJson(result);
      console.log(result.released ? `${colors.green('🔓')} ${opts.name} released` : `${opts.name} was not held`);
    });
  lock
    .command('status')
    .description('who holds the lease, since when, until when')
    .requiredOption('--name <name>', 'the lock, e.g. releases')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; json?: boolean }) => {
      const report = await (await import('./commands/lock.ts')).lockStatus(input(), { name: opts.name });
      if (opts.json) return printJson(report);
      const { lease } = report;
      if (!report.held || !lease) return console.log(lease ? `${report.name} is free (the lease of ${lease.holder} expired at ${lease.expiresAt.toISOString()})` : `${report.name} is free`);
      const beat = lease.heartbeatAt ? `, last renewed ${lease.heartbeatAt.toISOString()}` : '';
      console.log(`${report.name} is held by ${lease.holder} since ${lease.acquiredAt.toISOString()}, until ${lease.expiresAt.toISOString()}${beat}`);
    });

  program
    .command('notify')
    .description("post the run's outcome to the configured webhooks (never fails the pipeline)")
    .requiredOption('--report-dir <dir>', 'where `snippets run --report-dir` wrote its report')
    .addOption(new Option('--outcome <outcome>', 'when there is no report: how the pipeline ended').choices(['success', 'failure']))
    .option('--message <text>', 'when there is no report: what happened')
    .action(async (opts: { reportDir: string; outcome?: 'success' | 'failure'; message?: string }) => {
      await (await import('./commands/notify.ts')).notify(input(), { ...opts, log: (line) => console.log(line) });
    });

  program
    .command('manifest')
    .description('write snippets.lock (sha256 per snippet and over all), or check the tree against it')
    .option('--check', 'refuse (exit 3) when the tree differs from snippets.lock')
    .action(async (opts: { check?: boolean }) => {
      const report = await (await import('./commands/manifest.ts')).manifest(repoDir(program), Boolean(opts.check));
      const count = Object.keys(report.manifest.snippets).length;
      console.log(report.written ? `wrote ${report.file} (${count} snippets)` : `${report.file} matches the tree (${count} snippets)`);
    });

  program
    .command('link-service')
    .description("make the service package the snippets import the service image's own code (the snippet image's build runs it after npm ci)")
    .requiredOption('--package <name>', 'the service package, as package.json names it')
    .option('--service-dir <dir>', 'where the service image keeps that package (its package.json)', process.env.SERVICE_DIR || '/app')
    .option('--json', 'machine-readable output')
    .action(async (opts: { package: string; serviceDir: string; json?: boolean }) => {
      const report = await (await import('./commands/link-service.ts')).linkServiceCommand(repoDir(program), opts);
      if (opts.json) return printJson(report);
      const proof = report.compared === 'content' ? `same version and ${report.files} files as the copy tested` : `same version as tested; content not compared: ${report.notCompared}`;
      console.log(`${colors.green('✓')} ${report.package} ${report.version} is the image's ${report.serviceDir} (${proof})`);
    });

  program
    .command('compile')
    .description('compile the config and snippets into the cache runs load them from (node_modules/.cache/snippets), e.g. at image build')
    .action(async () => {
      const report = await (await import('./commands/compile.ts')).compile(repoDir(program));
      console.log(report.bundle ? `compiled ${report.snippets} snippets into ${report.bundle}` : `${report.snippets} snippets load one by one: no bundle could be written`);
    });

  return program;
}

/** Runs the CLI; the only place errors become exit codes. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return Number(process.exitCode ?? ExitCode.ok);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the message; help and --version are not errors.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    if (error instanceof SnippetsError) {
      process.stderr.write(`${colors.red('snippets:')} ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`${colors.red('snippets: unexpected error:')} ${describeCause(error)}\n`);
    if (process.env.SNIPPETS_DEBUG) console.error(error);
    return ExitCode.snippetFailed;
  }
}
