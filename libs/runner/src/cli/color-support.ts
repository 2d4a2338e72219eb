/**
 * Whether a CLI colours its output, by the convention the ecosystem shares (no-color.org,
 * Node's own FORCE_COLOR, chalk's supports-color): a non-empty NO_COLOR always wins; else
 * FORCE_COLOR decides when set, `0` or `false` meaning off and anything else (`1`, `2`,
 * `3`, `true`, even empty) on; else colour only on a terminal that is not `dumb`.
 */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return isTTY && env.TERM !== 'dumb';
}
