import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { auditFromEnv } from '../audit.ts';
import { DEFAULT_NOTIFY_ENV, loadConfigIfPresent } from '../config.ts';
import { parseDatabaseUrl } from '../database/database.ts';
import { InputError } from '../errors.ts';
import { snippetStore } from '../store/snippet-store.ts';
import { deliver, noticeText, redact, type Channel, type Delivery, type Notice } from './notify.ts';
import type { RunRecord } from './run-report.ts';
import { withDatabase, type SessionInput } from '../repo.ts';

export interface NotifyOptions {
  reportDir: string;
  outcome?: 'success' | 'failure';
  message?: string;
  log: (line: string) => void;
}

async function readRecord(reportDir: string): Promise<RunRecord | null> {
  const file = path.join(reportDir, 'report.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null; // the pipeline stopped before the run wrote it
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch {
    throw new InputError(`${file}: not valid JSON; pass the --report-dir that \`snippets run\` wrote`, { subject: file });
  }
}

/**
 * `snippets notify`: tells the configured webhooks how the run went (from its report), or
 * that the pipeline stopped before it. A failed delivery is logged and recorded in the
 * events table, and never fails the command.
 */
export async function notify(input: SessionInput, options: NotifyOptions): Promise<Delivery[]> {
  const repoRoot = path.resolve(input.cwd);
  const config = await loadConfigIfPresent(repoRoot);
  const names = config?.notify ?? DEFAULT_NOTIFY_ENV;
  const env = input.env;
  const channels: Channel[] = [];
  if (env[names.slackUrlEnv]) channels.push({ kind: 'slack', url: env[names.slackUrlEnv]! });
  if (env[names.webhookUrlEnv]) channels.push({ kind: 'webhook', url: env[names.webhookUrlEnv]!, token: env[names.webhookTokenEnv] || undefined });

  const record = await readRecord(options.reportDir);
  const repo = record?.repo || config?.repo || 'snippets';
  const success = record ? record.outcome === 'applied' || record.outcome === 'nothing-to-run' : options.outcome === 'success';
  const notice: Notice = {
    repo,
    outcome: success ? 'success' : 'failure',
    text: noticeText(record, { outcome: options.outcome ?? 'failure', message: options.message ?? 'the pipeline stopped before the run', repo }),
    record,
  };
  if (!channels.length) options.log(`notify: no webhook configured (set ${names.slackUrlEnv} or ${names.webhookUrlEnv}); nothing sent`);
  const deliveries = await Promise.all(channels.map((channel) => deliver(channel, notice)));
  for (const d of deliveries) options.log(d.ok ? `notify: sent to ${d.channel}` : `notify: ${d.channel} failed: ${d.error}; the run's outcome is unchanged`);
  await recordDeliveries(env, repoRoot, repo, deliveries, [...channels.flatMap((c) => [c.url, c.token])], options.log);
  return deliveries;
}

/** Best effort: the audit trail gets each delivery when the database is reachable. */
async function recordDeliveries(env: SessionInput['env'], repoRoot: string, repo: string, deliveries: Delivery[], secrets: (string | undefined)[], log: (line: string) => void): Promise<void> {
  if (!deliveries.length || !env.DATABASE_URL) return;
  try {
    await withDatabase(parseDatabaseUrl(env.DATABASE_URL, repoRoot), async ({ db }) => {
      const store = snippetStore(db, repo);
      if (!(await store.exists())) return;
      await store.appendEvents(
        deliveries.map((d) => ({ repo, kind: d.ok ? ('notified' as const) : ('notify-failed' as const), ...auditFromEnv(env), reason: d.error ?? null, detail: { channel: d.channel } })),
      );
    });
  } catch (error) {
    log(`notify: could not record the deliveries (${redact((error as Error).message, secrets)})`);
  }
}
