import { migrate } from '@snippets/example-service';
import { apiKeys, partners } from '@snippets/example-service/schema';
import { applySnippetFile, openTestDatabase } from '@snippets/runner/testing';
import { asc } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';

const snippet = new URL('./0003_revoke_api_keys_of_deactivated_partners.ts', import.meta.url);
let database: Awaited<ReturnType<typeof openTestDatabase>>;

beforeEach(async () => {
  database = await openTestDatabase();
  await migrate(database.db);
});
afterEach(() => database.close());

it('revokes the live keys of deactivated partners only', async () => {
  const { db } = database;
  const earlier = new Date('2026-01-01T00:00:00Z');
  const [active, gone] = await db
    .insert(partners)
    .values([
      { name: 'Active', country: 'DE' },
      { name: 'Gone', country: 'FR', deactivatedAt: new Date('2026-10-01T00:00:00Z') },
    ])
    .returning();
  await db.insert(apiKeys).values([
    { partnerId: active!.id, keyHash: 'k1' },
    { partnerId: gone!.id, keyHash: 'k2' },
    { partnerId: gone!.id, keyHash: 'k3', revokedAt: earlier },
  ]);

  const result = await applySnippetFile(database, snippet);

  const keys = await db.select({ hash: apiKeys.keyHash, revokedAt: apiKeys.revokedAt }).from(apiKeys).orderBy(asc(apiKeys.id));
  expect(keys).toEqual([
    { hash: 'k1', revokedAt: null },
    { hash: 'k2', revokedAt: new Date('2026-11-25T00:00:00Z') },
    { hash: 'k3', revokedAt: earlier },
  ]);
  expect(result.rowsChanged).toEqual({ 'public.api_keys': { inserted: 0, updated: 1, deleted: 0 } });
});
