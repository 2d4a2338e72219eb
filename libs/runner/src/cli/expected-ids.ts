// What plan and run are told to expect pending: the --expect-from-git flag and the ids --expect takes.
import { Option } from 'commander';

export function expectFromGitOption(): Option {
  return new Option('--expect-from-git <base..head>', 'expect exactly the snippets added between two revisions (the merge)');
}

/** `--expect a b` and `--expect a,b` both work: CI often has the ids as one string. */
export function splitIds(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);
}
