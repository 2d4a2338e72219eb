import ms from 'ms';
import { auditFromEnv } from '../audit.ts';
import { InputError, SafetyRefusal } from '../errors.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { describeLease, releaseLeases, type Lease } from '../store/release-leases.ts';
import { openTarget, withDatabase, type SessionInput } from '../repo.ts';

export interface LockOptions {
  name: string;
  holder?: string;
}

const LOCK_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const POLL_MS = 1_000;

function checkName(name: string): string {
  if (!LOCK_NAME.test(name)) throw new InputError(`--name '${name}' is not a lock name; use a lower-case id such as releases`, { subject: '--name' });
  return name;
}

/** `--ttl 30m`, `--wait 10s`: a duration, or a one-line error naming the flag. */
export function parseDuration(flag: string, value: string): number {
  const parsed = ms(value as ms.StringValue);
  if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
    throw new InputError(`${flag} '${value}' is not a duration; use e.g. 30s, 10m or 1h`, { subject: flag });
  }
  return parsed;
}

/**
 * Who holds the lease: `--holder`, else SNIPPETS_LOCK_HOLDER, else the CI run's URL, else
 * user@host. It must be the same in the step that releases, so it never includes a pid.
 */
export function lockHolder(env: Record<string, string | undefined>, holder?: string): string {
  const audit = auditFromEnv(env);
  const chosen = holder?.trim() || env.SNIPPETS_LOCK_HOLDER?.trim() || audit.ciRunUrl || `${audit.executedBy}@${audit.host}`;
  return chosen;
}

/** `snippets lock acquire`: takes the lease, waiting up to `waitMs` for its holder to let go. */
export async function lockAcquire(input: SessionInput, options: LockOptions & { ttlMs: number; waitMs: number }): Promise<Lease> {
  const name = checkName(options.name);
  if (options.ttlMs < 1_000) throw new InputError(`--ttl must be at least 1s; the lease lasts that long without renewal`, { subject: '--ttl' });
  const holder = lockHolder(input.env, options.holder);
  const { config, target, audit } = await openTarget(input);
  const repo = config?.repo ?? 'release-lock';
  return withDatabase(target, async ({ db }) => {
    const store = snippetStore(db, repo);
    await store.upgrade();
    const leases = releaseLeases(db);
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      const { acquired, lease } = await leases.tryAcquire(name, holder, options.ttlMs);
      if (acquired) {
        await store.appendEvents([{ repo, kind: 'lock-acquired', ...audit, detail: { name, holder, expiresAt: lease!.expiresAt } }]);
        return lease!;
      }
      if (Date.now() >= deadline) {
        throw new SafetyRefusal(`release lock '${name}' is ${lease ? describeLease(lease) : 'held'}; wait longer with --wait, or have its holder release it`, 'lock-held');
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  });
}

/** `snippets lock release`: gives the lease up; not holding it is fine, someone else holding it is refused. */
export async function lockRelease(input: SessionInput, options: LockOptions): Promise<{ released: boolean; lease: Lease | undefined }> {
  const name = checkName(options.name);
  const holder = lockHolder(input.env, options.holder);
  const { config, target, audit } = await openTarget(input);
  const repo = config?.repo ?? 'release-lock';
  return withDatabase(target, async ({ db }) => {
    const store = snippetStore(db, repo);
    if (!(await store.exists())) return { released: false, lease: undefined };
    const result = await releaseLeases(db).release(name, holder);
    if (result.released) await store.appendEvents([{ repo, kind: 'lock-released', ...audit, detail: { name, holder } }]);
    return result;
  });
}

export interface LockStatus {
  name: string;
  held: boolean;
  lease: Lease | null;
  now: Date;
}

/** `snippets lock status`: who holds the lease, since when, until when. */
export async function lockStatus(input: SessionInput, options: { name: string }): Promise<LockStatus> {
  const name = checkName(options.name);
  const { target } = await openTarget(input);
  return withDatabase(target, async ({ db }) => {
    const leases = releaseLeases(db);
    const lease = (await snippetStore(db, 'release-lock').exists()) ? await leases.read(name) : undefined;
    const now = await leases.now();
    return { name, held: lease?.live === true, lease: lease ?? null, now };
  });
}
