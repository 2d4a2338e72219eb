// `snippets manifest`: its flags and the line saying whether snippets.lock was written or matches.
import type { Command } from 'commander';
import { repoDir } from './command-input.ts';

export function registerManifestCommand(program: Command): void {
  program
    .command('manifest')
    .description('write snippets.lock (sha256 per snippet and over all), or check the tree against it')
    .option('--check', 'refuse (exit 3) when the tree differs from snippets.lock')
    .action(async (opts: { check?: boolean }) => {
      const report = await (await import('../commands/manifest.ts')).manifest(repoDir(program), Boolean(opts.check));
      const count = Object.keys(report.manifest.snippets).length;
      console.log(report.written ? `wrote ${report.file} (${count} snippets)` : `${report.file} matches the tree (${count} snippets)`);
    });
}
