// The `snippets` program: its global options, its commands in help order, and main(argv).
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describeCause, ExitCode, SnippetsError } from './errors.ts';
import { colors } from './cli/output.ts';
import { registerBaselineCommand } from './cli/baseline.ts';
import { registerCompileCommand } from './cli/compile.ts';
import { registerHistoryCommand } from './cli/history.ts';
import { registerImpactCommand } from './cli/impact.ts';
import { registerInputCommands } from './cli/input.ts';
import { registerLinkServiceCommand } from './cli/link-service.ts';
import { registerLockCommands } from './cli/lock.ts';
import { registerManifestCommand } from './cli/manifest.ts';
import { registerNotifyCommand } from './cli/notify.ts';
import { registerPlanCommand } from './cli/plan.ts';
import { registerRevertCommand } from './cli/revert.ts';
import { registerRunCommand } from './cli/run.ts';
import { registerStatusCommand } from './cli/status.ts';
import { registerVerifyCommand } from './cli/verify.ts';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** In the order `snippets --help` lists them. */
const commandsInHelpOrder = [
  registerStatusCommand,
  registerPlanCommand,
  registerRunCommand,
  registerHistoryCommand,
  registerVerifyCommand,
  registerRevertCommand,
  registerBaselineCommand,
  registerImpactCommand,
  registerLockCommands,
  registerNotifyCommand,
  registerManifestCommand,
  registerInputCommands,
  registerLinkServiceCommand,
  registerCompileCommand,
];

function buildProgram(): Command {
  const program = new Command('snippets')
    .version(version)
    .description('Reviewed, exactly-once production data changes: run and audit the snippets of this repo')
    .option('-C, --cwd <dir>', 'the snippet repo to work in', process.cwd())
    .showHelpAfterError('(run snippets --help for usage)')
    .exitOverride();
  for (const register of commandsInHelpOrder) register(program);
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
