/** How long a line may wait in a pipe or file's buffer before it is written. */
const FLUSH_MS = 100;

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface RunOutput {
  write(text: string): void;
  /** Writes what is gathered; call before anything else speaks, e.g. an error on stderr. */
  flush(): void;
  /** Flushes and stops watching for exit. */
  close(): void;
}

/**
 * Where a run's lines go. On a terminal each goes out at once. Into a pipe or a file, as
 * in CI, they are gathered and written every FLUSH_MS: a write per snippet is a system
 * call that also wakes the reader, which took 5% of a run of 1,000 snippets. Nothing
 * gathered is lost on the way out: the process's exit, or a signal that stops it,
 * writes it first (the signal then stops the process as it would have). A caller that
 * handles some signals itself leaves them out of `stopSignals` and calls flush().
 */
export function runOutput(stream: NodeJS.WriteStream, options: { stopSignals?: readonly NodeJS.Signals[] } = {}): RunOutput {
  const stopSignals = options.stopSignals ?? STOP_SIGNALS;
  if (stream.isTTY) return { write: (text) => void stream.write(text), flush: () => {}, close: () => {} };
  let gathered = '';
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!gathered) return;
    // Synchronous for pipes and files on Linux, so also safe in an 'exit' handler.
    stream.write(gathered);
    gathered = '';
  };
  const onSignal = (signal: NodeJS.Signals) => {
    flush();
    stopWatching();
    process.kill(process.pid, signal);
  };
  const stopWatching = () => {
    process.off('exit', flush);
    for (const signal of stopSignals) process.off(signal, onSignal);
  };
  process.on('exit', flush);
  for (const signal of stopSignals) process.on(signal, onSignal);
  return {
    write(text) {
      gathered += text;
      timer ??= setTimeout(flush, FLUSH_MS).unref();
    },
    flush,
    close() {
      flush();
      stopWatching();
    },
  };
}
