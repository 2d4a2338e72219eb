import { apiKeys, partners } from '@snippets/example-service/schema';
import { applySnippetFile, openServiceTestDatabase } from '@snippets/runner/testing';
import { asc } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';

const snippet = new URL('./0003_revoke_api_keys_of_deactivated_partners.ts', import.meta.url);
let database: Awaited<ReturnType<typeof openServiceTestDatabase>>;

// A fresh database per test, built by the service's own migrations.
beforeEach(async () => {
  database = await openServiceTestDatabase(new URL('..', import.meta.url));
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
