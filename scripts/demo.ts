/**
 * `npm run demo`: the whole life of a snippet repo on the embedded database, no server
 * needed. Builds the example service's database on PGlite, then drives the real
 * `snippets` CLI in snippet-repos/example-snippets the way a pipeline would.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import pc from 'picocolors';
import { migrate, seed } from '@snippets/example-service';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const repoDir = path.join(root, 'snippet-repos/example-snippets');
const cli = path.join(root, 'libs/runner/bin/snippets.js');
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'snippets-demo-'));
const env = {
  ...process.env,
  DATABASE_URL: `pglite:${dataDir}`,
  SNIPPETS_APPROVED_BY: 'alice (PR #42 review)',
  SNIPPETS_EXECUTED_BY: 'deploy-pipeline',
  SNIPPETS_GIT_SHA: 'demo',
};

function step(title: string): void {
  console.log(`\n${pc.bold(pc.cyan(`== ${title}`))}`);
}

/** Runs the CLI, shows the command and its output, and stops the demo on a surprise. */
function snippets(args: string[], expectedExit = 0, { quiet = false } = {}): string {
  if (!quiet) console.log(pc.dim(`$ snippets ${args.join(' ')}`));
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: repoDir, env, encoding: 'utf8' });
  if (!quiet) process.stdout.write(result.stdout);
  process.stdout.write(result.stderr);
  if (result.status !== expectedExit) {
    console.error(pc.red(`demo: expected exit ${expectedExit} from \`snippets ${args.join(' ')}\`, got ${result.status}`));
    process.exit(1);
  }
  return result.stdout;
}

try {
  step('The example payments service: migrate and seed its database on embedded PGlite');
  const client = await PGlite.create(dataDir);
  const db = drizzle({ client });
  await migrate(db);
  const counts = await seed(db);
  await client.close();
  console.log(Object.entries(counts).map(([table, n]) => `${table}: ${n}`).join(', '));

  step('CI checks the tree is the reviewed one (snippets.lock)');
  snippets(['manifest', '--check']);

  step('What is there, and what would run');
  snippets(['status']);
  console.log(pc.dim('An empty ledger facing a repo with history is refused unless the run is told what to expect:'));
  snippets(['plan'], 3);

  step('The pipeline runs exactly the snippets the merge brought (--expect)');
  const pending = (JSON.parse(snippets(['status', '--json'], 0, { quiet: true })) as { snippets: { id: string; state: string }[] }).snippets
    .filter((s) => s.state === 'pending')
    .map((s) => s.id);
  snippets(['run', '--dry-run', '--expect', ...pending]);
  snippets(['run', '--expect', ...pending]);

  step('The ledger and the audit trail');
  snippets(['status']);
  snippets(['history']);

  step('A second run does nothing: each snippet runs exactly once');
  snippets(['run']);
  snippets(['verify']);
  console.log(pc.green('\ndemo complete'));
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
