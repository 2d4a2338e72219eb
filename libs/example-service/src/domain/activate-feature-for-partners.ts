import { inArray } from 'drizzle-orm';
import { partnerFeatures, partners } from '../schema.ts';
import { DomainError } from './errors.ts';
import type { ServiceDb } from './handle.ts';
import { firstMissing, requireIds } from './validate.ts';

export interface ActivateFeatureParams {
  /** The feature's name as the service checks it, e.g. `instant_payouts`. */
  feature: string;
  partnerIds: number[];
}

export interface ActivateFeatureResult {
  feature: string;
  /** Partners that got the feature now. */
  activated: number;
  /** Partners that already had it; left as they were. */
  alreadyActive: number;
}

const OPERATION = 'activateFeatureForPartners';
const FEATURE = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Switches a feature on for each partner; a partner that has it keeps its original
 * activation time, so running it twice changes nothing. Deactivated partners are refused.
 */
export async function activateFeatureForPartners(db: ServiceDb, params: ActivateFeatureParams): Promise<ActivateFeatureResult> {
  const feature = params.feature;
  if (typeof feature !== 'string' || !FEATURE.test(feature)) {
    throw new DomainError(OPERATION, `feature must be a lower-case name of letters, digits and _ (e.g. instant_payouts), got ${JSON.stringify(feature)}`);
  }
  const partnerIds = requireIds(OPERATION, 'partnerIds', params.partnerIds);

  return db.transaction(async (tx) => {
    const found = await tx
      .select({ id: partners.id, deactivatedAt: partners.deactivatedAt })
      .from(partners)
      .where(inArray(partners.id, partnerIds));
    const missing = firstMissing(partnerIds, found.map((p) => p.id));
    if (missing !== undefined) throw new DomainError(OPERATION, `partner ${missing} does not exist`);
    const gone = found.find((p) => p.deactivatedAt !== null);
    if (gone) {
      throw new DomainError(OPERATION, `partner ${gone.id} was deactivated on ${gone.deactivatedAt!.toISOString()}; a deactivated partner gets no new features`);
    }

    const inserted = await tx
      .insert(partnerFeatures)
      .values(partnerIds.map((partnerId) => ({ partnerId, feature })))
      .onConflictDoNothing({ target: [partnerFeatures.partnerId, partnerFeatures.feature] })
      .returning({ id: partnerFeatures.id });
    return { feature, activated: inserted.length, alreadyActive: partnerIds.length - inserted.length };
  });
}
