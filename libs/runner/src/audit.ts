import os from 'node:os';

/** Who and what ran a snippet; recorded on every ledger row and event. */
export interface AuditContext {
  approvedBy: string | null;
  executedBy: string;
  host: string;
  gitSha: string | null;
  image: string | null;
  /** The service package the snippets import and its installed version (see installedService). */
  servicePackage: string | null;
  serviceVersion: string | null;
  ciRunUrl: string | null;
}

type Env = Record<string, string | undefined>;

function first(env: Env, ...names: string[]): string | null {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return null;
}

function ciRunUrl(env: Env): string | null {
  const explicit = first(env, 'SNIPPETS_CI_RUN_URL', 'BUILD_URL', 'CI_JOB_URL');
  if (explicit) return explicit;
  // GitHub Actions gives the parts, not the URL.
  if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID) {
    return `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`;
  }
  return null;
}

function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown'; // containers may run as a uid with no passwd entry
  }
}

/**
 * Reads the audit fields from the environment. `SNIPPETS_*` names win; the usual CI
 * variables (GitHub Actions, GitLab, Jenkins) fill in what is not set.
 */
export function auditFromEnv(env: Env = process.env): AuditContext {
  return {
    approvedBy: first(env, 'SNIPPETS_APPROVED_BY'),
    executedBy: first(env, 'SNIPPETS_EXECUTED_BY', 'GITHUB_ACTOR', 'GITLAB_USER_LOGIN', 'BUILD_USER_ID') ?? currentUser(),
    host: first(env, 'SNIPPETS_HOST') ?? os.hostname(),
    gitSha: first(env, 'SNIPPETS_GIT_SHA', 'GITHUB_SHA', 'CI_COMMIT_SHA', 'GIT_COMMIT'),
    image: first(env, 'SNIPPETS_IMAGE'),
    // Read from the repo, not the environment: openRepo fills them in.
    servicePackage: null,
    serviceVersion: null,
    ciRunUrl: ciRunUrl(env),
  };
}
