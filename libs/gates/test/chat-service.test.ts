import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { applySchema, seed, seedUserId } from '@snippets/example-chat-service';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, createRepo, runGates, scratchDatabasesLeft, urlOf, type FixtureRepo } from './support/fixtures.ts';

const exec = promisify(execFile);

interface Report {
  gates: { gate: string; status: string; details: string[]; notChecked: string[] }[];
  rehearsals: { snippets: { id: string; outcome: string; rowsChanged: Record<string, { inserted: number; updated: number; deleted: number }> }[] }[];
}

const CONFIG = `import { defineConfig, packageDir } from '@snippets/runner';
import path from 'node:path';
export default defineConfig({
  repo: 'chat-fixture',
  service: { schemaFile: path.join(packageDir('@snippets/example-chat-service', import.meta.url), 'schema.sql'), schemaVersion: 'none' },
});
`;

/** A snippet on the chat service, naming its tables by their drizzle objects. */
const chatSnippet = (imports: string, touches: string, up: string) => `import { defineSnippet } from '@snippets/runner';
import { ${imports} } from '@snippets/example-chat-service/schema';

export default defineSnippet({
  description: 'a fix on the chat service',
  touches: [${touches}],
  async up({ db, rows, sql }) { ${up} },
});
`;

describe('the gates on a service shaped like real apps (quoted mixed-case tables, uuid keys, pushed schema)', () => {
  let work: string;
  let database: string;
  let dump: string;
  const repos: FixtureRepo[] = [];

  async function check(snippets: Record<string, string>, gates: string): Promise<{ code: number; report: Report }> {
    const repo = await createRepo(snippets);
    repos.push(repo);
    await repo.write('snippets.config.ts', CONFIG);
    const result = await runGates(['check', '--dump', dump, '--only', gates, '--report-dir', 'reports'], repo.dir);
    expect(result.stderr).toBe('');
    return { code: result.code, report: JSON.parse(await readFile(path.join(repo.dir, 'reports/report.json'), 'utf8')) as Report };
  }
  const gate = (report: Report, name: string) => report.gates.find((g) => g.gate === name)!;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'gates-chat-'));
    database = `gates_chat_${randomBytes(5).toString('hex')}`;
    await admin((sql) => sql.unsafe(`create database ${database}`));
    const client = postgres(urlOf(database), { max: 1, onnotice: () => {} });
    try {
      const db = drizzle({ client });
      await applySchema(db as never);
      await seed(db as never);
    } finally {
      await client.end();
    }
    dump = path.join(work, 'chat.dump');
    await exec('pg_dump', ['-Fc', '-f', dump, urlOf(database)]);
  });
  afterAll(async () => {
    for (const repo of repos) await repo.dispose();
    await admin((sql) => sql.unsafe(`drop database if exists ${database} with (force)`));
    await rm(work, { recursive: true, force: true });
    expect(await scratchDatabasesLeft()).toEqual([]);
  });

  it('touches names every table a user delete cascades into, through the diamond and the composite key, with exact counts', async () => {
    // User 35 owns no workspace: its delete cascades to its threads, their messages and its own
    // messages (the diamond), its memberships and their order lines (a composite foreign key),
    // and sets null the invitedById of the user it invited.
    const purge = chatSnippet('user', 'user', `await db.delete(user).where(sql\`\${user.id} = \${${JSON.stringify(seedUserId(35))}}\`);`);
    const { code, report } = await check({ '0001_purge.ts': purge }, 'rehearsal,touches');
    expect(code).toBe(1);
    expect(report.rehearsals[0]!.snippets[0]!.rowsChanged).toEqual({
      'public.User': { inserted: 0, updated: 1, deleted: 1 },
      'public.Thread': { inserted: 0, updated: 0, deleted: 2 },
      'public.Message': { inserted: 0, updated: 0, deleted: 18 },
      'public.Membership': { inserted: 0, updated: 0, deleted: 2 },
      'public.OrderLine': { inserted: 0, updated: 0, deleted: 2 },
    });
    expect(gate(report, 'touches').details).toEqual([expect.stringMatching(/^0001_purge: touches public\."?User"? but changed public\."?User"? \+0 ~1 -1, /)]);
  });

  it('passes the same delete when touches declares the cascade, naming the tables by their drizzle objects', async () => {
    const purge = chatSnippet(
      'membership, message, orderLine, thread, user',
      'user, thread, message, membership, orderLine',
      `await db.delete(user).where(sql\`\${user.id} = \${${JSON.stringify(seedUserId(35))}}\`);`,
    );
    const { code, report } = await check({ '0001_purge.ts': purge }, 'rehearsal,schema,touches');
    expect(report.gates.map((g) => `${g.gate}:${g.status}`)).toEqual(['rehearsal:passed', 'schema:passed', 'touches:passed']);
    expect(code).toBe(0);
  });

  it('schema is red for an ALTER on a quoted table, naming the column', async () => {
    const alter = chatSnippet('message', 'message', 'await rows(sql`alter table "Message" add column "editedAt" timestamptz`);');
    const { code, report } = await check({ '0001_alter.ts': alter }, 'rehearsal,schema');
    expect(code).toBe(1);
    expect(gate(report, 'schema').status).toBe('failed');
    expect(gate(report, 'schema').details[0]).toContain('changed the schema (added column public."Message"."editedAt" timestamp with time zone)');
  });
});
