// `snippets impact`: its flags and the table of what a delete would reach through foreign keys.
import type { Command } from 'commander';
import { colors, printJson, table } from './output.ts';
import { commandInput } from './command-input.ts';

export function registerImpactCommand(program: Command): void {
  program
    .command('impact')
    .description('what a delete would remove, null or be blocked by through foreign keys (read-only)')
    .requiredOption('--table <table>', 'the table rows would be deleted from')
    .requiredOption('--where <sql>', 'the condition of the delete')
    .option('--json', 'machine-readable output')
    .action(async (opts: { table: string; where: string; json?: boolean }) => {
      const report = await (await import('../commands/impact.ts')).impact(commandInput(program), opts.table, opts.where);
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
}
