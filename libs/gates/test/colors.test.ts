import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGates } from './support/fixtures.ts';

const ANSI = /\x1b\[/;

describe('the snippet-gates CLI colours by the same rule as the runner', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gates-colors-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    { env: {}, colored: false },
    { env: { FORCE_COLOR: '1' }, colored: true },
    { env: { FORCE_COLOR: 'true' }, colored: true },
    { env: { FORCE_COLOR: '' }, colored: true },
    { env: { FORCE_COLOR: '0' }, colored: false },
    { env: { FORCE_COLOR: 'false' }, colored: false },
    { env: { NO_COLOR: '1' }, colored: false },
    { env: { NO_COLOR: '1', FORCE_COLOR: '1' }, colored: false },
    { env: { NO_COLOR: '', FORCE_COLOR: '1' }, colored: true },
  ])('$env: coloured $colored', async ({ env, colored }) => {
    // A directory without snippets.config.ts: a bad-input line, whose prefix is red when colour is on.
    const result = await runGates(['check', '--cwd', dir], dir, { NO_COLOR: undefined, ...env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('snippets.config.ts: not found');
    expect(ANSI.test(result.stderr)).toBe(colored);
  });
});
