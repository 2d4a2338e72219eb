import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { InputError } from '../errors.ts';

const SNIPPET_FILE = /^(\d{4}_[a-z0-9_]+)\.ts$/;
// BASE..HEAD with revisions git accepts (names, shas, ~ and ^), nothing a shell would read.
const RANGE = /^[\w./@^~-]+\.\.[\w./@^~-]+$/;

/**
 * The snippets a merge added: the files under the snippets folder that `git diff` reports
 * as added between BASE and HEAD. Production runs exactly these (`--expect-from-git`).
 */
export async function snippetsAddedBetween(repoRoot: string, snippetsDir: string, range: string): Promise<string[]> {
  if (!RANGE.test(range)) {
    throw new InputError(`--expect-from-git '${range}' is not a range; pass the merge's BASE..HEAD, e.g. \${{ github.event.before }}..\${{ github.sha }}`, {
      subject: '--expect-from-git',
    });
  }
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('git', ['diff', '--name-only', '--no-renames', '--diff-filter=A', '--relative', range, '--', snippetsDir], { cwd: repoRoot }));
  } catch (error) {
    const why = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n')[0];
    throw new InputError(`--expect-from-git ${range}: git diff failed (${why}); pass revisions of this repo's history, fetched deep enough`, {
      subject: '--expect-from-git',
      cause: error,
    });
  }
  return stdout
    .split('\n')
    .filter((file) => path.dirname(file) === path.normalize(snippetsDir))
    .map((file) => SNIPPET_FILE.exec(path.basename(file))?.[1])
    .filter((id): id is string => id !== undefined)
    .sort();
}
