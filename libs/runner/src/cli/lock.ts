// `snippets lock acquire|release|status`: the release lock's subcommands, their flags and their lines.
import { Option, type Command } from 'commander';
import { colors, printJson } from './output.ts';
import { commandInput } from './command-input.ts';

export function registerLockCommands(program: Command): void {
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
      const { lockAcquire, parseDuration } = await import('../commands/lock.ts');
      const lease = await lockAcquire(commandInput(program), { name: opts.name, holder: opts.holder, ttlMs: parseDuration('--ttl', opts.ttl), waitMs: parseDuration('--wait', opts.wait) });
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
      const result = await (await import('../commands/lock.ts')).lockRelease(commandInput(program), { name: opts.name, holder: opts.holder });
      if (opts.json) return printJson(result);
      console.log(result.released ? `${colors.green('🔓')} ${opts.name} released` : `${opts.name} was not held`);
    });
  lock
    .command('status')
    .description('who holds the lease, since when, until when')
    .requiredOption('--name <name>', 'the lock, e.g. releases')
    .option('--json', 'machine-readable output')
    .action(async (opts: { name: string; json?: boolean }) => {
      const report = await (await import('../commands/lock.ts')).lockStatus(commandInput(program), { name: opts.name });
      if (opts.json) return printJson(report);
      const { lease } = report;
      if (!report.held || !lease) return console.log(lease ? `${report.name} is free (the lease of ${lease.holder} expired at ${lease.expiresAt.toISOString()})` : `${report.name} is free`);
      const beat = lease.heartbeatAt ? `, last renewed ${lease.heartbeatAt.toISOString()}` : '';
      console.log(`${report.name} is held by ${lease.holder} since ${lease.acquiredAt.toISOString()}, until ${lease.expiresAt.toISOString()}${beat}`);
    });
}
