import { existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import ms from 'ms';
import * as v from 'valibot';
import { describeCause, InputError } from './errors.ts';
import { importModule } from './snippets/import-module.ts';
import { describeIssue } from './snippets/schema-issues.ts';
import { importCompiledConfig } from './snippets/snippet-bundle.ts';

export const CONFIG_FILE = 'snippets.config.ts';

/** What a snippet repo writes in `snippets.config.ts`. */
export interface SnippetsConfig {
  /** The repo id recorded in the ledger; one database can hold several repos' ledgers. */
  repo: string;
  /** Where the numbered snippets live, relative to the repo root. Default `snippets`. */
  snippetsDir?: string;
  /**
   * The service's schema: how a database of it is built for snippet tests and rehearsals
   * (one of `migrationsFolder` or `schemaFile`), and how its databases record their schema
   * version, for `requires.migrations` and the gates' check that a dump is of this service.
   */
  service?: {
    /** drizzle-kit's output folder: the schema is built by applying its migrations. */
    migrationsFolder?: string;
    /** A SQL file of the whole schema (`drizzle-kit export`, `pg_dump --schema-only`), for a schema that is pushed or versioned by another tool. */
    schemaFile?: string;
    /**
     * Where a database of the service records its schema version: `'drizzle'` (drizzle's
     * migrations table, the default with `migrationsFolder`), a table and column another tool
     * keeps (e.g. `{ table: 'flyway_schema_history', column: 'version' }`; a snippet's
     * `requires.migrations` then names values of that column), or `'none'`, said explicitly.
     */
    schemaVersion?: 'drizzle' | 'none' | { schema?: string; table: string; column: string };
    /** drizzle's migrations table, when the service renamed it. Defaults `drizzle` and `__drizzle_migrations`. */
    migrationsSchema?: string;
    migrationsTable?: string;
  };
  /**
   * Where `snippets notify` posts, by the names of the environment variables that hold the
   * secrets (never the secrets themselves). A channel whose URL variable is unset is skipped.
   */
  notify?: {
    /** A Slack-compatible incoming webhook. Default variable SNIPPETS_SLACK_WEBHOOK_URL. */
    slack?: { urlEnv?: string };
    /** A generic JSON webhook, with an optional bearer token. Defaults SNIPPETS_WEBHOOK_URL, SNIPPETS_WEBHOOK_TOKEN. */
    webhook?: { urlEnv?: string; tokenEnv?: string };
  };
  /** Durations such as `30s`, `5m`. */
  timeouts?: {
    /** PostgreSQL statement_timeout inside a snippet's transaction. Default `15m`. */
    statement?: string;
    /** PostgreSQL lock_timeout inside a snippet's transaction. Default `10s`. */
    lock?: string;
    /** How long `run` waits for another runner of the same repo. Default `10m`. */
    runLockWait?: string;
  };
  /**
   * Where snippet code may connect besides its `db` (see the README's "Nothing escapes the
   * transaction"): another database a snippet must read, or a host it may reach in dry runs,
   * tests and rehearsals too. Entries are `host`, `host:port` or `unix:/path` (a socket, or
   * a directory of sockets). Production runs let other outbound connections through and
   * record them; connections to these are recorded as allowed.
   */
  outbound?: { allow?: string[] };
}

export function defineConfig(config: SnippetsConfig): SnippetsConfig {
  return config;
}

/**
 * Where an installed package lives, so the config can point at the service's migrations
 * wherever npm put it: `path.join(packageDir('@acme/payments', import.meta.url), 'drizzle')`.
 */
export function packageDir(packageName: string, from: string | URL): string {
  return path.dirname(createRequire(from).resolve(`${packageName}/package.json`));
}

/** Where a service's databases record their schema version. */
export type SchemaVersionSource =
  | { kind: 'drizzle'; schema: string; table: string }
  | { kind: 'table'; schema: string; table: string; column: string }
  | { kind: 'none' };

/** The service's schema, validated: how to build it, and how its version is recorded. */
export type ServiceConfig = ({ migrationsFolder: string; schemaFile?: undefined } | { schemaFile: string; migrationsFolder?: undefined }) & {
  version: SchemaVersionSource;
};

/** Config after validation: durations in milliseconds, paths absolute, defaults filled. */
export interface ParsedConfig {
  repo: string;
  repoRoot: string;
  snippetsDir: string;
  manifestFile: string;
  service?: ServiceConfig;
  timeouts: { statementMs: number; lockMs: number; runLockWaitMs: number };
  notify: { slackUrlEnv: string; webhookUrlEnv: string; webhookTokenEnv: string };
  outbound: { allow: readonly string[] };
}

const duration = (fallback: string) =>
  v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const parsed = ms(dataset.value as ms.StringValue);
        if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
          addIssue({ message: `'${dataset.value}' is not a duration like 30s, 5m or 1h` });
          return NEVER;
        }
        return parsed;
      }),
    ),
    fallback,
  );

/** Where `snippets notify` finds its secrets unless the config names other variables. */
export const DEFAULT_NOTIFY_ENV: ParsedConfig['notify'] = {
  slackUrlEnv: 'SNIPPETS_SLACK_WEBHOOK_URL',
  webhookUrlEnv: 'SNIPPETS_WEBHOOK_URL',
  webhookTokenEnv: 'SNIPPETS_WEBHOOK_TOKEN',
};

const envName = v.pipe(v.string(), v.regex(/^[A-Z_][A-Z0-9_]*$/, 'must name an environment variable, like SNIPPETS_SLACK_WEBHOOK_URL'));

// host, host:port ([::1]:5432 for IPv6) or unix:/path (a socket or its directory); no scheme, no wildcard.
const outboundEntry = v.pipe(
  v.string(),
  v.regex(/^(unix:\/\S+|[A-Za-z0-9._-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?)$/, 'must be a host, host:port or unix:/path, like "reports-db.internal:5432"'),
);

const configSchema = v.strictObject({
  repo: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be a lower-case id like "payments-snippets"')),
  snippetsDir: v.optional(v.pipe(v.string(), v.minLength(1)), 'snippets'),
  service: v.optional(
    v.strictObject({
      migrationsFolder: v.optional(v.pipe(v.string(), v.minLength(1))),
      schemaFile: v.optional(v.pipe(v.string(), v.minLength(1))),
      schemaVersion: v.optional(
        v.union([
          v.literal('drizzle'),
          v.literal('none'),
          v.strictObject({ schema: v.optional(v.pipe(v.string(), v.minLength(1)), 'public'), table: v.pipe(v.string(), v.minLength(1)), column: v.pipe(v.string(), v.minLength(1)) }),
        ]),
      ),
      migrationsSchema: v.optional(v.string(), 'drizzle'),
      migrationsTable: v.optional(v.string(), '__drizzle_migrations'),
    }),
  ),
  notify: v.optional(
    v.strictObject({
      slack: v.optional(v.strictObject({ urlEnv: v.optional(envName) })),
      webhook: v.optional(v.strictObject({ urlEnv: v.optional(envName), tokenEnv: v.optional(envName) })),
    }),
  ),
  timeouts: v.optional(v.strictObject({ statement: duration('15m'), lock: duration('10s'), runLockWait: duration('10m') }), {}),
  outbound: v.optional(v.strictObject({ allow: v.optional(v.array(outboundEntry), []) }), {}),
});

/** For commands a service's own pipeline runs too (the release lock, notify): the config where there is one. */
export async function loadConfigIfPresent(repoRoot: string): Promise<ParsedConfig | undefined> {
  return existsSync(path.join(repoRoot, CONFIG_FILE)) ? loadConfig(repoRoot) : undefined;
}

export async function loadConfig(repoRoot: string): Promise<ParsedConfig> {
  const file = path.join(repoRoot, CONFIG_FILE);
  try {
    await access(file);
  } catch {
    throw new InputError(`${CONFIG_FILE}: not found in ${repoRoot}; run from the snippet repo's root or pass --cwd DIR`, {
      subject: file,
    });
  }
  let raw: unknown;
  try {
    raw = ((await importCompiledConfig(repoRoot, file)) ?? (await importModule(file))).default;
  } catch (error) {
    throw new InputError(`${CONFIG_FILE}: failed to load (${describeCause(error)}); fix it so it imports cleanly`, {
      subject: file,
      cause: error,
    });
  }
  const parsed = v.safeParse(configSchema, raw);
  if (!parsed.success) {
    const problem = describeIssue(parsed.issues[0], 'default export');
    throw new InputError(`${CONFIG_FILE}: ${problem}; fix it (see defineConfig in @snippets/runner)`, { subject: file });
  }
  const config = parsed.output;
  return {
    repo: config.repo,
    repoRoot,
    snippetsDir: config.snippetsDir,
    manifestFile: path.join(repoRoot, 'snippets.lock'),
    service: config.service && parseService(config.service, repoRoot, file),
    notify: {
      slackUrlEnv: config.notify?.slack?.urlEnv ?? DEFAULT_NOTIFY_ENV.slackUrlEnv,
      webhookUrlEnv: config.notify?.webhook?.urlEnv ?? DEFAULT_NOTIFY_ENV.webhookUrlEnv,
      webhookTokenEnv: config.notify?.webhook?.tokenEnv ?? DEFAULT_NOTIFY_ENV.webhookTokenEnv,
    },
    timeouts: {
      statementMs: config.timeouts.statement,
      lockMs: config.timeouts.lock,
      runLockWaitMs: config.timeouts.runLockWait,
    },
    outbound: { allow: config.outbound.allow },
  };
}

type RawService = NonNullable<v.InferOutput<typeof configSchema>['service']>;

/** One way to build the schema, and a version source that fits it, said explicitly where it cannot be guessed. */
function parseService(service: RawService, repoRoot: string, file: string): ServiceConfig {
  const fail = (problem: string) => new InputError(`${CONFIG_FILE}: service ${problem}`, { subject: file });
  if (service.migrationsFolder && service.schemaFile) throw fail('has both migrationsFolder and schemaFile; keep the one the service builds its schema from');
  if (!service.migrationsFolder && !service.schemaFile) {
    throw fail("names no schema; add migrationsFolder (drizzle-kit's output) or schemaFile (a SQL file of the whole schema)");
  }
  const declared = service.schemaVersion ?? (service.migrationsFolder ? 'drizzle' : undefined);
  if (declared === undefined) {
    throw fail("has a schemaFile but no schemaVersion; say how its databases record their schema version: { table, column }, or 'none'");
  }
  if (declared === 'drizzle' && !service.migrationsFolder) throw fail("schemaVersion 'drizzle' needs migrationsFolder, the migrations drizzle records");
  const version: SchemaVersionSource =
    declared === 'drizzle'
      ? { kind: 'drizzle', schema: service.migrationsSchema, table: service.migrationsTable }
      : declared === 'none'
        ? { kind: 'none' }
        : { kind: 'table', schema: declared.schema, table: declared.table, column: declared.column };
  return service.migrationsFolder
    ? { migrationsFolder: path.resolve(repoRoot, service.migrationsFolder), version }
    : { schemaFile: path.resolve(repoRoot, service.schemaFile!), version };
}
