/** Exit codes of the `snippets` CLI, as the design's command-line contract fixes them. */
export const ExitCode = {
  ok: 0,
  snippetFailed: 1,
  badInput: 2,
  refused: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base of every error the runner raises on purpose; the CLI maps `exitCode` to the process. */
export abstract class SnippetsError extends Error {
  abstract readonly exitCode: ExitCode;
  /** The file or flag the message is about, when there is one. */
  readonly subject?: string;

  constructor(message: string, options: { subject?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.subject = options.subject;
  }
}

/** Bad input or configuration: a malformed snippet, a duplicate number, a bad URL. Nothing is written. */
export class InputError extends SnippetsError {
  readonly exitCode = ExitCode.badInput;
}

/** A safety check said no: tampered file, unexpected pending set, history guard, lock held. */
export class SafetyRefusal extends SnippetsError {
  readonly exitCode = ExitCode.refused;
  constructor(
    message: string,
    readonly check: RefusalCheck,
    options: { subject?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

export type RefusalCheck =
  | 'changed-applied'
  | 'missing-applied'
  | 'manifest-mismatch'
  | 'history-guard'
  | 'unexpected-pending'
  | 'requires-migrations'
  | 'lock-held'
  | 'revert-blocked'
  | 'squash-incomplete'
  | 'schema-changed'
  | 'release-lock'
  | 'service-image'
  | 'input-digest'
  | 'transition';

/** A snippet's `up`, `verify` or `down` threw or reported failure, or the server refused its COMMIT; its transaction was rolled back. */
export class SnippetFailed extends SnippetsError {
  readonly exitCode = ExitCode.snippetFailed;
  /** Rows the rolled-back attempt had changed per table, when known (a touches failure). */
  readonly rowsChanged?: Record<string, { inserted: number; updated: number; deleted: number }>;
  /** The connection the connection guard stopped, when that is why it failed (see connection-guard.ts). */
  readonly escape?: { to: string; kind: 'database' | 'network'; phase: 'up' | 'verify' | 'down' };
  constructor(
    message: string,
    readonly snippetId: string,
    readonly phase: 'up' | 'verify' | 'down' | 'touches' | 'commit',
    options: { cause?: unknown; rowsChanged?: SnippetFailed['rowsChanged']; escape?: SnippetFailed['escape'] } = {},
  ) {
    super(message, { subject: snippetId, cause: options.cause });
    this.rowsChanged = options.rowsChanged;
    this.escape = options.escape;
  }
}

/** A run stopped on request (SIGINT, SIGTERM) between snippets: those before it committed, the rest did not begin. */
export class RunInterrupted extends SnippetsError {
  readonly exitCode = ExitCode.snippetFailed;
}

/**
 * One line saying what went wrong. drizzle wraps a database error in "Failed query: <sql>
 * params: …"; the server's own message, its cause, is the useful part.
 */
export function describeCause(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.message.startsWith('Failed query:') && current.cause instanceof Error) {
    current = current.cause;
  }
  const message = current instanceof Error ? current.message : String(current);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A message without the data values some server messages quote (`invalid input syntax for
 * type uuid: "…"`, `value "…" is out of range`): in a snippet with inputs they may be the
 * input's. (The DETAIL that carries a key's values, `Key (email)=(…)`, is never shown.)
 */
export function withoutServerValues(message: string): string {
  return message.replace(/: "(?:[^"]|"")*"/g, ': ‹value›').replace(/\bvalue "(?:[^"]|"")*"/g, 'value ‹value›');
}
