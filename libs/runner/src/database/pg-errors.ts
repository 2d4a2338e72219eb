/** The SQLSTATE of a PostgreSQL error, looking through drizzle's wrapping `cause` chain. */
export function pgErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * SQLSTATE classes that blame the statement's own text or values, not the server or the
 * connection: syntax and access rules (42), data (22), cardinality (21), unsupported
 * features (0A), and a write refused in a read-only transaction (25006). A timeout, a lost
 * connection or a deadlock is not the statement's fault and stays out.
 */
const STATEMENT_FAULT = /^(42|22|21|0A)|^25006$/;

/** True when the server rejected a statement because of what it says, e.g. a syntax error or an unknown column. */
export function isStatementFault(error: unknown): boolean {
  const code = pgErrorCode(error);
  return code !== undefined && STATEMENT_FAULT.test(code);
}
