// `snippets link-service`: its flags and the line saying which service code the snippets now import.
import type { Command } from 'commander';
import { colors, printJson } from './output.ts';
import { repoDir } from './command-input.ts';

export function registerLinkServiceCommand(program: Command): void {
  program
    .command('link-service')
    .description("make the service package the snippets import the service image's own code (the snippet image's build runs it after npm ci)")
    .requiredOption('--package <name>', 'the service package, as package.json names it')
    .option('--service-dir <dir>', 'where the service image keeps that package (its package.json)', process.env.SERVICE_DIR || '/app')
    .option('--json', 'machine-readable output')
    .action(async (opts: { package: string; serviceDir: string; json?: boolean }) => {
      const report = await (await import('../commands/link-service.ts')).linkServiceCommand(repoDir(program), opts);
      if (opts.json) return printJson(report);
      const proof = report.compared === 'content' ? `same version and ${report.files} files as the copy tested` : `same version as tested; content not compared: ${report.notCompared}`;
      console.log(`${colors.green('✓')} ${report.package} ${report.version} is the image's ${report.serviceDir} (${proof})`);
    });
}
