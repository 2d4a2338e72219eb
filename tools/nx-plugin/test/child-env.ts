/**
 * This process's environment without its colour settings: a child whose stderr a test
 * compares gets no colour environment it did not ask for. vitest sets FORCE_COLOR in its
 * workers, and with a NO_COLOR from the shell beside it Node warns on the child's stderr.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
  return { ...inherited, ...extra };
}
