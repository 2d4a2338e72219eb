import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { colorEnabled } from '../src/cli/color-support.ts';
import { runCli } from './support/cli.ts';
import { createFixtureRepo, type FixtureRepo } from './support/fixture-repo.ts';

const ANSI = /\x1b\[/;

/** Colour variables and whether output to a pipe is coloured under them. */
const PIPE_CASES: { env: Record<string, string>; colored: boolean }[] = [
  { env: {}, colored: false },
  { env: { FORCE_COLOR: '1' }, colored: true },
  { env: { FORCE_COLOR: '2' }, colored: true },
  { env: { FORCE_COLOR: '3' }, colored: true },
  { env: { FORCE_COLOR: 'true' }, colored: true },
  { env: { FORCE_COLOR: '' }, colored: true },
  { env: { FORCE_COLOR: '0' }, colored: false },
  { env: { FORCE_COLOR: 'false' }, colored: false },
  { env: { NO_COLOR: '1' }, colored: false },
  { env: { NO_COLOR: '1', FORCE_COLOR: '1' }, colored: false },
  { env: { NO_COLOR: '1', FORCE_COLOR: '3' }, colored: false },
  { env: { NO_COLOR: '', FORCE_COLOR: '1' }, colored: true },
  { env: { TERM: 'dumb', FORCE_COLOR: '1' }, colored: true },
];

describe('the snippets CLI colours by the shared FORCE_COLOR / NO_COLOR convention', () => {
  let repo: FixtureRepo;
  beforeAll(async () => {
    repo = await createFixtureRepo({});
  });
  afterAll(() => repo.dispose());

  it.each(PIPE_CASES)('$env: coloured $colored', async ({ env, colored }) => {
    // No DATABASE_URL: a bad-input line, whose "snippets:" prefix is red when colour is on.
    const result = await runCli(['status'], { cwd: repo.dir, env: { NO_COLOR: undefined, DATABASE_URL: undefined, ...env } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DATABASE_URL is not set');
    expect(ANSI.test(result.stderr)).toBe(colored);
  });
});

describe('colorEnabled on a terminal', () => {
  it.each([
    { env: {}, colored: true },
    { env: { TERM: 'dumb' }, colored: false },
    { env: { NO_COLOR: '1' }, colored: false },
    { env: { NO_COLOR: '' }, colored: true },
    { env: { FORCE_COLOR: '0' }, colored: false },
    { env: { FORCE_COLOR: 'false' }, colored: false },
    { env: { NO_COLOR: '1', FORCE_COLOR: '1' }, colored: false },
  ])('$env: coloured $colored', ({ env, colored }) => {
    expect(colorEnabled(env, true)).toBe(colored);
  });
});
