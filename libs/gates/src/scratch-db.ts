import { randomBytes } from 'node:crypto';
import { sealScratchDatabase } from '@snippets/runner/engine';
import postgres from 'postgres';

/** Scratch databases alive in this process, so an interrupted run can still drop them. */
const alive = new Map<string, string>();

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withAdmin<T>(serverUrl: string, work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connection: { application_name: 'snippet-gates' } });
  try {
    return await work(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

export interface ScratchDatabase {
  name: string;
  url: string;
  /** From now on only the runner's sessions may write to it (see sealScratchDatabase). */
  seal(): Promise<void>;
}

/**
 * Creates a scratch database on the server (empty, or cloned from `template`), hands it to
 * `work`, and drops it afterwards whatever happens.
 */
export async function withScratchDatabase<T>(
  serverUrl: string,
  options: { template?: string },
  work: (scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
  const name = `snippet_gates_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, (admin) =>
    admin.unsafe(options.template ? `create database ${name} template ${quoteIdent(options.template)}` : `create database ${name}`),
  );
  alive.set(name, serverUrl);
  try {
    return await work({ name, url: databaseUrl(serverUrl, name), seal: () => withAdmin(serverUrl, (admin) => sealScratchDatabase(admin, name)) });
  } finally {
    await dropScratch(name);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function dropScratch(name: string): Promise<void> {
  const serverUrl = alive.get(name);
  if (!serverUrl) return;
  await withAdmin(serverUrl, (admin) => admin.unsafe(`drop database if exists ${name} with (force)`));
  alive.delete(name);
}

/** Drops every scratch database this process still has: the CLI calls it on SIGINT and SIGTERM. */
export async function dropAllScratchDatabases(): Promise<void> {
  await Promise.allSettled([...alive.keys()].map(dropScratch));
}
