import { defineSnippet } from '@snippets/runner';
import { activateFeatureForPartners } from '@snippets/example-service/domain';
import { partnerFeatures } from '@snippets/example-service/schema';
import { and, eq, inArray } from 'drizzle-orm';

export default defineSnippet({
  description: 'Switch instant payouts on for the partners of the pilot',
  dependsOn: ['0003_revoke_api_keys_of_deactivated_partners'],
  requires: { migrations: ['0002_add_partner_features'] },
  touches: [partnerFeatures],
  // The reviewed call: the service's own, tested code decides what activating means.
  params: { feature: 'instant_payouts', partnerIds: [2, 7, 12] },
  async up({ db, params, log }) {
    // `db` is this snippet's transaction: the service's writes commit or roll back with it.
    const { activated, alreadyActive } = await activateFeatureForPartners(db, params);
    log.info(`${params.feature}: activated for ${activated} partners, ${alreadyActive} already had it`);
  },
  async verify({ db, params }) {
    const active = await db.$count(
      partnerFeatures,
      and(eq(partnerFeatures.feature, params.feature), inArray(partnerFeatures.partnerId, params.partnerIds)),
    );
    return { ok: active === params.partnerIds.length, message: `${active} of ${params.partnerIds.length} partners have ${params.feature}` };
  },
});
