import { users } from '@snippets/example-service/schema';
import { applySnippetFile, openServiceTestDatabase } from '@snippets/runner/testing';
import { asc } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';

const snippet = new URL('./0002_normalise_user_emails.ts', import.meta.url);
let database: Awaited<ReturnType<typeof openServiceTestDatabase>>;

// A fresh database per test, built by the service's own migrations.
beforeEach(async () => {
  database = await openServiceTestDatabase(new URL('..', import.meta.url));
});
afterEach(() => database.close());

it('trims and lower-cases addresses and leaves clean ones alone', async () => {
  const { db } = database;
  await db.insert(users).values([
    { name: 'A', email: ' Ada@Example.COM ' },
    { name: 'B', email: 'bob@example.com' },
  ]);

  const result = await applySnippetFile(database, snippet);

  const emails = await db.select({ email: users.email }).from(users).orderBy(asc(users.id));
  expect(emails.map((u) => u.email)).toEqual(['ada@example.com', 'bob@example.com']);
  expect(result.rowsChanged).toEqual({ 'public.users': { inserted: 0, updated: 1, deleted: 0 } });
});

it('refuses to merge two accounts whose addresses normalise to the same one, changing nothing', async () => {
  const { db } = database;
  await db.insert(users).values([
    { name: 'A', email: 'ada@example.com' },
    { name: 'A again', email: 'ADA@example.com' },
  ]);

  await expect(applySnippetFile(database, snippet)).rejects.toThrow(
    '0002_normalise_user_emails: up failed: addresses would collide after normalising: ada@example.com',
  );
  const emails = await db.select({ email: users.email }).from(users).orderBy(asc(users.id));
  expect(emails.map((u) => u.email)).toEqual(['ada@example.com', 'ADA@example.com']);
});
