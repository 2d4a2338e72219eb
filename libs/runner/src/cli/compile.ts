// `snippets compile`: the command and the line saying what was compiled.
import type { Command } from 'commander';
import { repoDir } from './command-input.ts';

export function registerCompileCommand(program: Command): void {
  program
    .command('compile')
    .description('compile the config and snippets into the cache runs load them from (node_modules/.cache/snippets), e.g. at image build')
    .action(async () => {
      const report = await (await import('../commands/compile.ts')).compile(repoDir(program));
      console.log(report.bundle ? `compiled ${report.snippets} snippets into ${report.bundle}` : `${report.snippets} snippets load one by one: no bundle could be written`);
    });
}
