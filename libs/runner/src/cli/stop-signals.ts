// What SIGINT and SIGTERM do to a command that can stop between steps: the first asks, the second ends it.

/**
 * An AbortSignal for the first SIGINT or SIGTERM; a second one ends the process by that
 * signal, as if no handler were installed.
 */
export function stopOnSecondSignal(onFirst: () => void, beforeStop: () => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const handle = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      controller.abort();
      onFirst();
      return;
    }
    dispose();
    beforeStop();
    process.kill(process.pid, signal);
  };
  const dispose = () => signals.forEach((s) => process.off(s, handle));
  signals.forEach((s) => process.on(s, handle));
  return { signal: controller.signal, dispose };
}
