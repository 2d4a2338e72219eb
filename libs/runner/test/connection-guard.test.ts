import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { openDatabase, parseDatabaseUrl } from '../src/database/database.ts';
import { applySnippetFile, openTestDatabase } from '../src/testing.ts';
import { runCli, writeManifest } from './support/cli.ts';
import { createTestDatabase, SERVER_URL, type Driver, type TestDatabase } from './support/databases.ts';
import { createFixtureRepo, defaultConfig, type FixtureRepo } from './support/fixture-repo.ts';

/**
 * A service's code as real services keep it: a module-level handle (node-postgres behind
 * drizzle, wrapped with snippetAware), functions that open their own postgres.js client or a
 * pg.Pool, a pool that connected when the module loaded, and one that swallows errors.
 * SERVICE_DATABASE_URL is the service's own setting: the same database the snippet runs on.
 */
const SERVICE = `import { snippetAware } from '@snippets/service-handle';
import { and, eq, gt, lte } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import postgres from 'postgres';

export const invoices = pgTable('invoices', { id: serial('id').primaryKey(), status: text('status').notNull() });
const url = process.env.SERVICE_DATABASE_URL;

// allowExitOnIdle: a pool that outlives the work keeps no process alive.
export const db = snippetAware(drizzle(new pg.Pool({ connectionString: url, max: 1, allowExitOnIdle: true })));

/** Voids draft invoices through the module-level handle. */
export async function voidDrafts(): Promise<number> {
  const voided = await db.update(invoices).set({ status: 'void' }).where(eq(invoices.status, 'draft')).returning({ id: invoices.id });
  return voided.length;
}

/** The same, for one batch's key range. */
export async function voidDraftsIn(from: number | null, to: number): Promise<void> {
  await db.update(invoices).set({ status: 'void' }).where(and(eq(invoices.status, 'draft'), gt(invoices.id, from ?? 0), lte(invoices.id, to)));
}

export async function purgeAuditWithOwnClient(): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql\`delete from audit_trail\`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Over the server's Unix socket, as a service on the database host may connect. */
export async function purgeAuditOverUnixSocket(): Promise<void> {
  const { pathname, username } = new URL(url);
  const sql = postgres({ host: '/var/run/postgresql', user: username, database: pathname.slice(1), max: 1, onnotice: () => {} });
  try {
    await sql\`delete from audit_trail\`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Asking for TLS: the guard knows the request for it, before any handshake. */
export async function purgeAuditOverTls(): Promise<void> {
  const sql = postgres(url, { ssl: 'require', max: 1, onnotice: () => {} });
  try {
    await sql\`delete from audit_trail\`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function purgeAuditWithPool(): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await pool.query('delete from audit_trail');
  } finally {
    await pool.end();
  }
}

// Connected as the module loads, before any snippet starts.
const warm = new pg.Pool({ connectionString: url, max: 1, allowExitOnIdle: true });
export const warmedUp = process.env.SERVICE_DATABASE_URL ? warm.query('select 1') : Promise.resolve();
export async function purgeAuditWithWarmPool(): Promise<void> {
  await warmedUp;
  await warm.query('delete from audit_trail');
}

export async function purgeAuditQuietly(): Promise<void> {
  try {
    await purgeAuditWithOwnClient();
  } catch {
    // the service logs and goes on
  }
}

export async function notify(target: string): Promise<void> {
  const response = await fetch(target, { method: 'POST', body: 'invoices voided' });
  await response.text();
}
`;

const snippet = (up: string, verify = 'return true;') => `import { defineSnippet } from '@snippets/runner';
import * as service from '../service/billing.ts';

export default defineSnippet({
  description: 'void draft invoices',
  touches: ['invoices'],
  async up({ db, params }) {
    ${up}
  },
  async verify({ db }) {
    ${verify}
  },
});
`;

const SCHEMA = `create table invoices (id serial primary key, status text not null);
  create table audit_trail (id serial primary key, note text not null);
  insert into invoices (status) values ('draft'), ('draft'), ('paid');
  insert into audit_trail (note) select 'entry ' || n from generate_series(1, 5) n;`;

const ESCAPES: Record<string, string> = {
  'its own postgres.js client': 'await service.purgeAuditWithOwnClient();',
  'a pg.Pool it makes': 'await service.purgeAuditWithPool();',
  'a pool that connected before the snippet started': 'await service.purgeAuditWithWarmPool();',
  'a client whose error it swallows': 'await service.purgeAuditQuietly();',
  'a client over a Unix socket': 'await service.purgeAuditOverUnixSocket();',
  'a client that asks for TLS': 'await service.purgeAuditOverTls();',
};

describe.each<Driver>(['postgres', 'pglite'])('service code inside a snippet on %s', (driver) => {
  let database: TestDatabase;
  // The service's own database: the snippet's on PostgreSQL, a server database beside PGlite.
  let serviceDatabase: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, SERVICE_DATABASE_URL: serviceDatabase.url, ...env } });
  const count = async (table: string, on = database) => (await on.query<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n;

  beforeEach(async () => {
    database = await createTestDatabase(driver);
    await database.query(SCHEMA);
    serviceDatabase = driver === 'postgres' ? database : await createTestDatabase('postgres');
    if (serviceDatabase !== database) await serviceDatabase.query(SCHEMA);
    repo = await createFixtureRepo({});
    await repo.write('service/billing.ts', SERVICE);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
    if (serviceDatabase !== database) await serviceDatabase.dispose();
  });

  async function writeSnippet(source: string): Promise<void> {
    await repo.write('snippets/0001_void_drafts.ts', source);
    await writeManifest(repo.dir);
  }

  it('runs a function written against a module-level handle inside the snippet\'s transaction: its rows count and are checked', async () => {
    await writeSnippet(snippet('await service.voidDrafts();'));
    const result = await cli(['run', '--expect', '0001_void_drafts']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('✓ 0001_void_drafts  invoices ~2 ');
    const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({ 'public.invoices': { inserted: 0, updated: 2, deleted: 0 } });
  });

  it('rolls the module-level handle\'s writes back with the snippet when verify fails', async () => {
    await writeSnippet(snippet('await service.voidDrafts();', "return { ok: false, message: 'not today' };"));
    const result = await cli(['run', '--expect', '0001_void_drafts']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('verify failed: not today; the transaction was rolled back');
    expect(await count("invoices where status = 'draft'")).toBe(2);
  });

  // Each way on the server; on PGlite, the runner's db has no socket at all, one way shows it.
  const escapes = Object.entries(ESCAPES).slice(0, driver === 'postgres' ? undefined : 1);
  it.each(escapes)('stops a write through %s before its query, fails the snippet and records why', async (_how, up) => {
    await writeSnippet(snippet(`${up}\n    await service.voidDrafts();`));
    const result = await cli(['run', '--expect', '0001_void_drafts']);
    expect(result.code).toBe(1);
    const line = result.stdout.split('\n').find((l) => l.includes('✗ 0001_void_drafts'));
    expect(line).toMatch(/up opened a database connection to (127\.0\.0\.1:5432|localhost:5432|unix:\/var\/run\/postgresql\/\.s\.PGSQL\.5432) that is not the snippet's db; it was stopped before sending its query; pass the snippet's db/);
    // Nothing of it is written: neither the escaping delete nor the snippet's own update.
    expect(await count('audit_trail', serviceDatabase)).toBe(5);
    expect(await count("invoices where status = 'draft'")).toBe(2);
    const events = await database.query<{ kind: string; reason: string; detail: { escape?: { kind: string; phase: string } } }>(
      "select kind, reason, detail from snippets.events where snippet_id = '0001_void_drafts' order by seq",
    );
    expect(events.map((e) => e.kind)).toEqual(['started', 'failed']);
    expect(events[1]!.reason).toContain('opened a database connection to');
    expect(events[1]!.detail.escape).toMatchObject({ kind: 'database', phase: 'up' });
  });

  if (driver === 'postgres') it('lets the same write land with the guard switched off, so the check above can fail', async () => {
    await writeSnippet(snippet(`${ESCAPES['its own postgres.js client']}\n    await service.voidDrafts();`, "return { ok: false, message: 'not today' };"));
    const result = await cli(['run', '--expect', '0001_void_drafts'], { SNIPPETS_CONNECTION_GUARD: 'off' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('snippets: the connection guard is off (SNIPPETS_CONNECTION_GUARD=off)');
    expect(await count('audit_trail', serviceDatabase)).toBe(0);
  });
});

/** A batched snippet, ten invoices a batch (the least batch() takes), whose process() calls the service; `extra` runs after. */
const batched = (extra = '') => `import { defineSnippet } from '@snippets/runner';
import * as service from '../service/billing.ts';

export default defineSnippet({
  description: 'void draft invoices in batches',
  transaction: 'batched',
  touches: ['invoices'],
  async up({ batch }) {
    await batch({
      table: 'invoices',
      size: 10,
      maxSize: 10,
      async process({ from, to }) {
        await service.voidDraftsIn(from, to);
        ${extra}
      },
    });
  },
});
`;

describe('service code inside a batched snippet on postgres', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  const cli = (args: string[]) => runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, SERVICE_DATABASE_URL: database.url } });
  const statuses = async () => (await database.query<{ status: string; n: number }>('select status, count(*)::int as n from invoices group by 1 order by 1')).map((r) => `${r.status}:${r.n}`);

  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await database.query(SCHEMA);
    // 2 + 28 drafts: three batches of ten.
    await database.query("insert into invoices (status) select 'draft' from generate_series(1, 28)");
    repo = await createFixtureRepo({});
    await repo.write('service/billing.ts', SERVICE);
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  it("runs the module-level handle in each batch's own transaction", async () => {
    await repo.write('snippets/0001_void_drafts.ts', batched());
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', '0001_void_drafts']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('✓ 0001_void_drafts');
    expect(result.code).toBe(0);
    expect(await statuses()).toEqual(['paid:1', 'void:30']);
    const [row] = await database.query<{ rows_changed: unknown }>('select rows_changed from snippets.ledger');
    expect(row!.rows_changed).toEqual({ 'public.invoices': { inserted: 0, updated: 30, deleted: 0 } });
  });

  it('rolls back the batch whose code escaped, though it swallowed the error; the batch before it stays committed', async () => {
    await repo.write('snippets/0001_void_drafts.ts', batched('if (from !== null) await service.purgeAuditQuietly();'));
    await writeManifest(repo.dir);
    const result = await cli(['run', '--expect', '0001_void_drafts']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/0001_void_drafts: up opened a database connection to 127\.0\.0\.1:5432 that is not the snippet's db; .*; this batch was rolled back, the finished ones are kept; run again to resume once fixed/);
    // The first batch (ids 1 to 10: nine drafts) committed; the second rolled back; no third began.
    expect(await statuses()).toEqual(['draft:21', 'paid:1', 'void:9']);
    expect((await database.query<{ n: number }>('select count(*)::int as n from audit_trail'))[0]!.n).toBe(5);
  });
});

describe('outbound connections of snippet code', () => {
  let database: TestDatabase;
  let repo: FixtureRepo;
  let server: Server;
  let received: string[];
  let target: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      received.push(`${request.method} ${request.url}`);
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  beforeEach(async () => {
    received = [];
    database = await createTestDatabase('postgres');
    await database.query(SCHEMA);
    repo = await createFixtureRepo({});
    await repo.write('service/billing.ts', SERVICE);
    const notifying = snippet('await service.voidDrafts();\n    await service.notify(`http://${params.target}/voided`);');
    await repo.write('snippets/0001_void_drafts.ts', notifying.replace("touches: ['invoices'],", "touches: ['invoices'],\n  params: { target: process.env.NOTIFY_TARGET },"));
  });
  afterEach(async () => {
    await repo.dispose();
    await database.dispose();
  });

  async function cliWithTarget(args: string[]) {
    await writeManifest(repo.dir);
    return runCli(args, { cwd: repo.dir, env: { DATABASE_URL: database.url, NOTIFY_TARGET: target } });
  }

  it('refuses them in a dry run, naming the host and the fix; nothing reaches the host', async () => {
    const result = await cliWithTarget(['run', '--dry-run', '--expect', '0001_void_drafts']);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`0001_void_drafts: up tried to reach ${target} in a dry run; it was stopped before sending its request; add the host to outbound.allow in snippets.config.ts`);
    expect(received).toEqual([]);
  });

  it('lets them through in production and records the host and port in the applied event', async () => {
    const result = await cliWithTarget(['run', '--expect', '0001_void_drafts']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(received).toEqual(['POST /voided']);
    const [applied] = await database.query<{ detail: { outbound?: unknown } }>("select detail from snippets.events where kind = 'applied'");
    expect(applied!.detail.outbound).toEqual([{ to: target, kind: 'network', allowed: false }]);
  });

  it('lets a host that snippets.config.ts allows through a dry run, recorded as allowed', async () => {
    await repo.write('snippets.config.ts', defaultConfig(", outbound: { allow: ['127.0.0.1'] }"));
    const result = await cliWithTarget(['run', '--dry-run', '--expect', '0001_void_drafts']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(received).toEqual(['POST /voided']);
  });

  it("refuses them in a snippet's test (applySnippetFile), in this very process", async () => {
    process.env.NOTIFY_TARGET = target;
    const runnerDatabase = await openDatabase(parseDatabaseUrl(database.url, repo.dir));
    try {
      const applying = applySnippetFile(runnerDatabase, path.join(repo.dir, 'snippets/0001_void_drafts.ts'));
      await expect(applying).rejects.toThrow(`0001_void_drafts: up tried to reach ${target} in a test; it was stopped before sending its request`);
    } finally {
      await runnerDatabase.close();
      delete process.env.NOTIFY_TARGET;
    }
    expect(received).toEqual([]);
    // The runner's own connection is not the snippet's: a fetch outside a snippet goes through.
    await fetch(`http://${target}/after`).then((r) => r.text());
    expect(received).toEqual(['GET /after']);
  });
});

it("a test database on the server refuses writes from every session but the runner's, whatever gets past the guard", async () => {
  const database = await openTestDatabase({ SNIPPETS_TEST_DATABASE_URL: SERVER_URL });
  const other = postgres(database.display, { max: 1, onnotice: () => {} });
  try {
    await database.db.execute(sql`create table notes (note text)`);
    await database.db.execute(sql`insert into notes values ('by the runner')`);
    await expect(other`insert into notes values ('by someone else')`).rejects.toThrow('cannot execute INSERT in a read-only transaction');
    expect(await other`select note from notes`).toEqual([{ note: 'by the runner' }]);
  } finally {
    await other.end({ timeout: 1 });
    await database.close();
  }
});
