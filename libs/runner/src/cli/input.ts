// `snippets input add NAME FILE`: approves a reviewed file as a snippet's input by its digest.
import type { Command } from 'commander';
import { repoDir } from './command-input.ts';

export function registerInputCommands(program: Command): void {
  const input = program.command('input').description("approve a snippet's external input (data kept out of git) by its digest in snippets.lock");
  input
    .command('add <name> <file>')
    .description('validate FILE against input NAME\'s columns and pin its sha256, row count and size in snippets.lock')
    .option('--snippet <id>', 'the snippet whose input it is, when several declare one by that name')
    .action(async (name: string, file: string, opts: { snippet?: string }) => {
      const { addInput } = await import('../commands/input.ts');
      const report = await addInput(repoDir(program), name, file, opts.snippet);
      const { sha256, rows, bytes } = report.digest;
      console.log(`approved input ${report.input} of ${report.snippetId}: sha256 ${sha256}, ${rows} rows, ${bytes} bytes`);
      console.log(`wrote ${report.lockFile}; commit it (the file itself stays out of git)`);
    });
}
