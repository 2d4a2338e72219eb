import type { RunRecord } from './run-report.ts';

/** Where a notification goes: the secrets are read from the environment, never from files. */
export interface Channel {
  kind: 'slack' | 'webhook';
  url: string;
  token?: string;
}

export interface Notice {
  repo: string;
  outcome: 'success' | 'failure';
  text: string;
  record: RunRecord | null;
}

export interface Delivery {
  channel: Channel['kind'];
  ok: boolean;
  /** Why it failed, with every secret replaced by ***. */
  error?: string;
}

const TIMEOUT_MS = 10_000;

/** The text of a notice, one line with the audit trail: what ran, who ran and approved it, where to look. */
export function noticeText(record: RunRecord | null, fallback: { outcome: Notice['outcome']; message: string; repo: string }): string {
  if (!record) return `${fallback.outcome === 'success' ? '✅' : '❌'} ${fallback.repo}: ${fallback.message}`;
  const icon = record.outcome === 'applied' || record.outcome === 'nothing-to-run' ? '✅' : record.outcome === 'refused' ? '⛔' : '❌';
  const { audit } = record;
  const who = [`run by ${audit.executedBy}`, audit.approvedBy && `approved by ${audit.approvedBy}`, audit.gitSha && `at ${audit.gitSha.slice(0, 12)}`].filter(Boolean).join(', ');
  return `${icon} ${record.repo}: ${record.outcome}: ${record.message} (${who})${audit.ciRunUrl ? ` ${audit.ciRunUrl}` : ''}`;
}

/** Replaces every secret in `text` with ***: error messages can quote a URL. */
export function redact(text: string, secrets: (string | undefined)[]): string {
  return secrets.filter((s): s is string => Boolean(s && s.length >= 4)).reduce((out, secret) => out.replaceAll(secret, '***'), text);
}

function payload(channel: Channel, notice: Notice): unknown {
  if (channel.kind === 'slack') return { text: notice.text };
  return { event: 'snippets.run', repo: notice.repo, outcome: notice.outcome, text: notice.text, report: notice.record };
}

/** Posts to one channel; a failure is returned, never thrown, so it cannot fail the pipeline. */
export async function deliver(channel: Channel, notice: Notice): Promise<Delivery> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (channel.token) headers.authorization = `Bearer ${channel.token}`;
  try {
    const response = await fetch(channel.url, { method: 'POST', headers, body: JSON.stringify(payload(channel, notice)), signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (response.ok) return { channel: channel.kind, ok: true };
    return { channel: channel.kind, ok: false, error: `HTTP ${response.status}` };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name ?? 'error';
    return { channel: channel.kind, ok: false, error: redact(`${(error as Error).message} (${cause})`, [channel.url, channel.token]) };
  }
}
