import { AsyncLocalStorage } from 'node:async_hooks';
import net from 'node:net';

/**
 * While a snippet's `up`, `verify` or `down` runs, every network connection that is not the
 * runner's own goes through this guard. A write to a database by anything but the snippet's
 * `db` would escape its transaction: the guard stops it before its first query and the
 * snippet fails. Outside production (dry runs, tests, rehearsals) it stops every other
 * outbound connection too, so that no e-mail or payment goes out from a rehearsal; in
 * production it lets them through and records where they went.
 *
 * Sockets are recognised by ownership, not by address: one the runner opened (inside
 * `asRunner`) is the runner's, even when a service pool reaches the same host and port.
 * Every client library ends in `net.Socket.prototype.connect` to open a socket and in
 * `_writeGeneric` to write to it (TLS sockets included), so the guard wraps those two and
 * nothing else; outside a snippet the cost is one async-context lookup per write. A socket
 * is judged on its first write in the snippet, where its protocol shows, and stopped there:
 * its query or request is not sent (a pool that connected earlier sent its startup then; a
 * TLS socket sends its handshake without a JavaScript write).
 *
 * Only the PostgreSQL wire protocol is recognised as a database (its startup, SSL, GSS and
 * cancel requests): in production a connection to another kind of database is allowed and
 * recorded as an outbound connection.
 */

export type Phase = 'up' | 'verify' | 'down';

/** Where a socket went: `host:port`, or `unix:/path` for a Unix socket. */
export type Destination = string;

export interface OutboundConnection {
  to: Destination;
  /** 'database' when it spoke PostgreSQL's protocol. */
  kind: 'database' | 'network';
  /** Allowed by `outbound.allow` in snippets.config.ts, rather than by the production rule. */
  allowed: boolean;
}

/** The connection the guard stopped, and why. */
export interface Escape {
  to: Destination;
  kind: 'database' | 'network';
  phase: Phase;
}

export interface GuardPolicy {
  /** Anywhere but production (a dry run, a snippet's test, a rehearsal) every outbound connection not allowed is stopped. */
  mode: 'production' | 'dry run' | 'test' | 'rehearsal';
  /** `outbound.allow` of snippets.config.ts: `host`, `host:port` or `unix:/path`. */
  allow: readonly string[];
}

/** What a snippet's code reached, and the first connection the guard stopped: one per snippet, across its phases and batches. */
export interface GuardRecord {
  readonly policy: GuardPolicy;
  readonly connections: Map<Destination, OutboundConnection>;
  escape?: Escape;
}

/** Where snippet code runs: one phase of one snippet, with the handle it works with. */
export interface SnippetScope {
  readonly snippetId: string;
  readonly phase: Phase;
  /** The handle the snippet's code works with, for services' module-level handles (see @snippets/service-handle). */
  readonly db: unknown;
  readonly record: GuardRecord;
}

const RUNNER = Symbol('the runner');
type Scope = SnippetScope | typeof RUNNER;

/**
 * Shared through the global symbol registry, so that a service's copy of
 * @snippets/service-handle finds the current snippet's `db` without depending on this package.
 */
const STORAGE_KEY = Symbol.for('@snippets/current-snippet');
const globals = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<Scope> };
const storage: AsyncLocalStorage<Scope> = (globals[STORAGE_KEY] ??= new AsyncLocalStorage<Scope>());

const DESTINATION = Symbol('snippets.destination');
const OWNER = Symbol('snippets.owner');
const PROTOCOL = Symbol('snippets.protocol');

interface GuardedSocket extends net.Socket {
  [DESTINATION]?: Destination;
  [OWNER]?: 'runner' | 'other';
  [PROTOCOL]?: 'database' | 'network';
  _parent?: GuardedSocket | null;
}

/** Diagnosing or measuring only: `SNIPPETS_CONNECTION_GUARD=off` lets snippet code's connections through unrecorded. */
export function connectionGuardEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return env.SNIPPETS_CONNECTION_GUARD !== 'off';
}

/** Sockets connected while `work` runs are the runner's: the guard never stops or records them. */
export function asRunner<T>(work: () => T): T {
  return storage.run(RUNNER, work);
}

/** Runs one phase of a snippet inside its scope; the caller reads `scope.escape` afterwards. */
export function inSnippetScope<T>(scope: SnippetScope, work: () => T): T {
  return storage.run(scope, work);
}

export function newGuardRecord(policy: GuardPolicy): GuardRecord {
  return { policy, connections: new Map() };
}

/** The snippet scope the caller runs in, if any. */
export function currentSnippetScope(): SnippetScope | undefined {
  const scope = storage.getStore();
  return scope === RUNNER ? undefined : scope;
}

/** The error a stopped socket is destroyed with: what the service's driver sees and may rethrow. */
export class ConnectionRefusedBySnippets extends Error {
  override readonly name = 'ConnectionRefusedBySnippets';
}

function destinationOf(args: unknown[]): Destination {
  // net.connect() hands the socket its normalised arguments as one array.
  const [first, second] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (typeof first === 'string' && !/^\d+$/.test(first)) return `unix:${first}`;
  if (typeof first === 'number' || typeof first === 'string') return `${typeof second === 'string' ? second : 'localhost'}:${first}`;
  const options = (first ?? {}) as { path?: string; host?: string; port?: number | string };
  if (options.path) return `unix:${options.path}`;
  return `${options.host ?? 'localhost'}:${options.port ?? ''}`;
}

// The first 8 bytes of a PostgreSQL client's first message: a startup packet (protocol 3.x),
// or an SSL, GSS-encryption or cancel request.
const POSTGRES_CODES = new Set([0x0003_0000, 80877103, 80877104, 80877102]);

function protocolOf(data: unknown): 'database' | 'network' {
  const first = Array.isArray(data) ? (data[0] as { chunk?: unknown } | undefined)?.chunk : data;
  if (!Buffer.isBuffer(first) && !(first instanceof Uint8Array)) return 'network';
  if (first.length < 8) return 'network';
  const view = Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  const code = view.readInt32BE(4);
  return POSTGRES_CODES.has(code) || (code >= 0x0003_0000 && code <= 0x0003_ffff && view.readInt32BE(0) >= 8) ? 'database' : 'network';
}

/** `host` or `host:port` (IPv6 in brackets or not), or `unix:/dir` for every socket in it. */
export function hostAllowed(to: Destination, allow: readonly string[]): boolean {
  // Paths are case-sensitive, host names are not.
  if (to.startsWith('unix:')) return allow.some((entry) => to === entry || to.startsWith(`${entry.replace(/\/$/, '')}/`));
  const lower = to.toLowerCase();
  const host = lower.slice(0, lower.lastIndexOf(':'));
  return allow.some((entry) => {
    const e = entry.toLowerCase().replace(/^\[([^\]]+)\]/, '$1');
    return e === lower || e === host;
  });
}

/** Notes a connection of snippet code to a host it may reach: `outbound.allow` names it, or production lets it through. */
function noteConnection(record: GuardRecord, to: Destination, kind: 'database' | 'network'): void {
  const allowed = hostAllowed(to, record.policy.allow);
  if (!allowed && record.policy.mode !== 'production') return;
  const known = record.connections.get(to);
  if (!known || known.kind !== kind) record.connections.set(to, { to, kind, allowed });
}

/**
 * Judges a write of snippet code on a socket that is not the runner's: undefined lets it
 * through, an error stops it. A database is stopped unless allowed; anything else too
 * outside production.
 */
function judge(scope: SnippetScope, to: Destination, kind: 'database' | 'network'): ConnectionRefusedBySnippets | undefined {
  const { record } = scope;
  const refuse = !hostAllowed(to, record.policy.allow) && (record.policy.mode !== 'production' || kind === 'database');
  if (!refuse) {
    noteConnection(record, to, kind);
    return undefined;
  }
  // Noted at connect time, in production, before it showed itself a database.
  if (record.connections.get(to)?.allowed === false) record.connections.delete(to);
  record.escape ??= { to, kind, phase: scope.phase };
  const what = kind === 'database' ? "a database connection that is not the snippet's db" : `an outbound connection in a ${record.policy.mode}`;
  return new ConnectionRefusedBySnippets(`snippets stopped ${what} (${to}) during ${scope.snippetId}'s ${scope.phase}`);
}

// Global, like the storage: the CLI's bundle and the library may both be loaded in one process.
const INSTALLED = Symbol.for('@snippets/connection-guard');

/** Wraps the two socket methods every client goes through; once per process. */
export function installConnectionGuard(): void {
  const registry = globalThis as { [INSTALLED]?: boolean };
  if (registry[INSTALLED] || !connectionGuardEnabled()) return;
  registry[INSTALLED] = true;
  const proto = net.Socket.prototype as unknown as {
    connect: (this: GuardedSocket, ...args: unknown[]) => net.Socket;
    _writeGeneric: (this: GuardedSocket, writev: boolean, data: unknown, encoding: string, cb: (error?: Error | null) => void) => unknown;
  };
  const connect = proto.connect;
  const writeGeneric = proto._writeGeneric;

  proto.connect = function guardedConnect(this: GuardedSocket, ...args: unknown[]) {
    this[DESTINATION] = destinationOf(args);
    const scope = storage.getStore();
    this[OWNER] = scope === RUNNER ? 'runner' : 'other';
    // Noted now, judged on its first write: a connection that sends nothing escapes nothing.
    if (scope && scope !== RUNNER) noteConnection(scope.record, this[DESTINATION], 'network');
    return connect.apply(this, args);
  };

  proto._writeGeneric = function guardedWrite(this: GuardedSocket, writev, data, encoding, cb) {
    // A TLS socket wrapping a connected socket takes its destination and owner from it.
    if (this[DESTINATION] === undefined && this._parent?.[DESTINATION] !== undefined) {
      this[DESTINATION] = this._parent[DESTINATION];
      this[OWNER] = this._parent[OWNER];
    }
    // Not a connection this process opened (stdio, IPC pipes): never the guard's business.
    if (this[DESTINATION] === undefined) return writeGeneric.call(this, writev, data, encoding, cb);
    this[PROTOCOL] ??= protocolOf(data);
    const scope = storage.getStore();
    if (scope && scope !== RUNNER && this[OWNER] !== 'runner') {
      const refusal = judge(scope, this[DESTINATION], this[PROTOCOL]);
      if (refusal) {
        cb(refusal);
        return undefined;
      }
    }
    return writeGeneric.call(this, writev, data, encoding, cb);
  };
}
