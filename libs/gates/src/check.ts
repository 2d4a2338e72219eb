import path from 'node:path';
import ms from 'ms';
import { InputError } from '@snippets/runner';
import { loadConfig, openDatabaseUrl, parseDatabaseUrl, readServiceJournal } from '@snippets/runner/engine';
import { detectDumpFormat } from './dumps.ts';
import { evaluate, GATES, REHEARSAL_GATES, type Evidence, type GateName } from './evaluate.ts';
import { describeBase, rehearse, type RehearsalBase } from './rehearsal.ts';
import { writeReports, type GatesReport } from './reports.ts';
import { checkRecordedVersions, readDumpVersions } from './schema-version.ts';
import { graphEvidence, manifestEvidence, testsEvidence } from './static-evidence.ts';

export interface CheckOptions {
  repoDir: string;
  dumps?: string[];
  templateDb?: string;
  reportDir?: string;
  only?: string[];
  /** Duration budget per snippet, e.g. `2m`. */
  budget?: string;
  env?: Record<string, string | undefined>;
}

export interface CheckResult {
  report: GatesReport;
  files: string[];
}

function parseOnly(only: string[] | undefined): GateName[] {
  if (!only?.length) return [...GATES];
  const names = only.flatMap((o) => o.split(',')).map((o) => o.trim()).filter(Boolean);
  const unknown = names.filter((n) => !GATES.includes(n as GateName));
  if (unknown.length) throw new InputError(`--only ${unknown.join(', ')}: not a gate; use some of ${GATES.join(', ')}`, { subject: '--only' });
  return names as GateName[];
}

function parseBudget(budget: string): number {
  const value = ms(budget as ms.StringValue);
  if (typeof value !== 'number' || !(value > 0)) throw new InputError(`--budget '${budget}' is not a duration like 30s or 5m`, { subject: '--budget' });
  return value;
}

function serverUrl(env: Record<string, string | undefined>): string {
  const value = env.SNIPPET_GATES_SERVER_URL ?? env.DATABASE_URL;
  const target = value ? parseDatabaseUrl(value, process.cwd()) : undefined;
  if (target?.driver !== 'postgres') {
    throw new InputError('DATABASE_URL (or SNIPPET_GATES_SERVER_URL) must be a postgres:// URL of a server where rehearsal databases can be created', {
      subject: 'DATABASE_URL',
    });
  }
  return target.url;
}

/** The rehearsal server must answer before the slow steps start; openDatabaseUrl says which URL and why not. */
async function checkServerReachable(url: string): Promise<void> {
  const database = await openDatabaseUrl(url, process.cwd());
  await database.close();
}

/**
 * `snippet-gates check`: checks the input first (exit 2 before any work), then collects
 * the evidence of every selected gate, evaluates it and writes the reports.
 */
export async function check(options: CheckOptions): Promise<CheckResult> {
  const startedAt = new Date();
  const env = options.env ?? process.env;
  const only = parseOnly(options.only);
  const durationBudgetMs = parseBudget(options.budget ?? '5m');
  const config = await loadConfig(path.resolve(options.repoDir));
  const journal = config.service?.migrationsFolder ? await readServiceJournal(config.service.migrationsFolder) : new Map<string, string>();

  // Every input check comes before the slow steps (the repo's tests, restores): a dump
  // that is unreadable or of another service fails in seconds, read without restoring it.
  const rehearsing = only.some((g) => REHEARSAL_GATES.includes(g));
  for (const dump of options.dumps ?? []) {
    const format = await detectDumpFormat(dump);
    if (rehearsing && config.service) checkRecordedVersions(`dump ${path.resolve(dump)}`, await readDumpVersions(dump, format, config.service.version), config.service.version, journal);
  }
  const bases: RehearsalBase[] = [
    ...(options.dumps ?? []).map((file) => ({ kind: 'dump' as const, file: path.resolve(file) })),
    ...(options.templateDb ? [{ kind: 'template' as const, name: options.templateDb }] : []),
  ];
  if (rehearsing && bases.length === 0) {
    if (!config.service) {
      throw new InputError('nothing to rehearse on: pass --dump FILE or --template-db NAME, or configure service.migrationsFolder or service.schemaFile', { subject: '--dump' });
    }
    bases.push({ kind: 'service', from: config.service.schemaFile ? 'schema file' : 'migrations' });
  }
  const server = rehearsing ? serverUrl(env) : '';
  if (rehearsing) await checkServerReachable(server);

  const graph = await graphEvidence(config);
  const evidence: Evidence = {
    manifest: only.includes('manifest') ? await manifestEvidence(config) : undefined,
    graph: only.includes('graph') ? graph.evidence : undefined,
    tests: only.includes('tests') ? await testsEvidence(config, graph.snippets) : undefined,
    rehearsals: [],
    durationBudgetMs,
  };
  for (const base of rehearsing ? bases : []) {
    // Snippets that do not load cannot be rehearsed: the rehearsal fails with the reason.
    evidence.rehearsals.push(
      graph.evidence.error
        ? { base: describeBase(base), setupMs: 0, refused: { check: 'graph', message: graph.evidence.error }, snippets: [], schema: { added: [], removed: [] } }
        : await rehearse({ repoDir: config.repoRoot, config, serverUrl: server, journal }, base),
    );
  }

  const gates = evaluate(evidence, only);
  const report: GatesReport = {
    repo: config.repo,
    passed: gates.every((g) => g.status === 'passed'),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    gates,
    rehearsals: evidence.rehearsals,
  };
  const files = options.reportDir ? await writeReports(path.resolve(options.reportDir), report) : [];
  return { report, files };
}
