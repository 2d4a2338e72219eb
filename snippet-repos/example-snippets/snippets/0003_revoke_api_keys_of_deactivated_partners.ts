import { defineSnippet } from '@snippets/runner';
import { apiKeys, partners } from '@snippets/example-service/schema';
import { and, count, eq, isNotNull, isNull } from 'drizzle-orm';

export default defineSnippet({
  description: 'Revoke the API keys still live for partners that were deactivated',
  dependsOn: ['0002_normalise_user_emails'],
  touches: ['api_keys'],
  params: { revokedAt: '2026-11-25T00:00:00Z' },
  async up({ db, sql, params, log }) {
    const revoked = await db
      .update(apiKeys)
      .set({ revokedAt: new Date(params.revokedAt) })
      .where(
        and(
          isNull(apiKeys.revokedAt),
          sql`${apiKeys.partnerId} in (select ${partners.id} from ${partners} where ${isNotNull(partners.deactivatedAt)})`,
        ),
      )
      .returning({ id: apiKeys.id });
    log.info(`revoked ${revoked.length} keys`);
  },
  async verify({ db }) {
    const [live] = await db
      .select({ n: count() })
      .from(apiKeys)
      .innerJoin(partners, eq(partners.id, apiKeys.partnerId))
      .where(and(isNull(apiKeys.revokedAt), isNotNull(partners.deactivatedAt)));
    return { ok: live!.n === 0, message: `${live!.n} keys of deactivated partners are still live` };
  },
  async down({ db, params }) {
    await db.update(apiKeys).set({ revokedAt: null }).where(eq(apiKeys.revokedAt, new Date(params.revokedAt)));
  },
});
