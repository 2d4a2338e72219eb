import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { isSnippet, type Snippet } from './define-snippet.ts';
import type { SnippetFile } from './discovery.ts';
import { describeCause, InputError } from './errors.ts';

/** A snippet file together with its validated definition. */
export interface LoadedSnippet extends SnippetFile {
  definition: Snippet;
}

const fn = z.custom<(...args: unknown[]) => unknown>((value) => typeof value === 'function', {
  message: 'must be a function',
});
const tableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/, {
  message: 'must be a table name like "trades" or "billing.trades"',
});

const definitionSchema = z.object({
  description: z.string().trim().min(1, { message: 'must be a non-empty line' }),
  dependsOn: z.array(z.string()).default([]),
  requires: z.object({ migrations: z.array(z.string().min(1)).default([]) }).strict().default({ migrations: [] }),
  touches: z.array(tableName),
  transaction: z.enum(['atomic', 'batched']).default('atomic'),
  params: z.record(z.string(), z.unknown()).default({}),
  up: fn,
  verify: fn.optional(),
  down: fn.optional(),
});

function formatIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? issue.path.join('.') : 'definition';
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${field} is required`;
  return `${field} ${issue.message}`;
}

async function loadOne(file: SnippetFile): Promise<LoadedSnippet> {
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(file.file).href);
  } catch (error) {
    throw new InputError(`${file.displayPath}: the module failed to load (${describeCause(error)}); fix it so it imports cleanly`, {
      subject: file.displayPath,
      cause: error,
    });
  }
  if (!isSnippet(module.default)) {
    throw new InputError(
      `${file.displayPath}: has no default export made by defineSnippet(); add \`export default defineSnippet({ ... })\``,
      { subject: file.displayPath },
    );
  }
  const parsed = definitionSchema.safeParse(module.default);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(formatIssue).join('; ');
    throw new InputError(`${file.displayPath}: invalid snippet: ${issues}`, { subject: file.displayPath });
  }
  if (parsed.data.transaction === 'batched') {
    throw new InputError(
      `${file.displayPath}: transaction 'batched' is not supported by this runner version; use 'atomic' (the default)`,
      { subject: file.displayPath },
    );
  }
  return { ...file, definition: Object.freeze({ ...module.default, ...parsed.data }) as Snippet };
}

function checkDependencies(snippets: LoadedSnippet[]): void {
  const byId = new Map(snippets.map((s) => [s.id, s]));
  for (const snippet of snippets) {
    for (const dependency of snippet.definition.dependsOn ?? []) {
      if (!byId.has(dependency)) {
        throw new InputError(
          `${snippet.displayPath}: dependsOn names '${dependency}', which is not a snippet in this repo; use the id (file stem) of an existing snippet`,
          { subject: snippet.displayPath },
        );
      }
    }
  }
  const cycle = findCycle(snippets, byId);
  if (cycle) {
    const first = byId.get(cycle[0]!)!;
    throw new InputError(
      `${first.displayPath}: dependsOn forms a cycle (${cycle.join(' -> ')}); remove one of these dependencies`,
      { subject: first.displayPath },
    );
  }
}

function findCycle(snippets: LoadedSnippet[], byId: Map<string, LoadedSnippet>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dependency of byId.get(id)?.definition.dependsOn ?? []) {
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const snippet of snippets) {
    const cycle = visit(snippet.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Imports and validates every snippet; any mistake is an InputError naming the file. */
export async function loadSnippets(files: SnippetFile[]): Promise<LoadedSnippet[]> {
  const snippets: LoadedSnippet[] = [];
  for (const file of files) snippets.push(await loadOne(file));
  checkDependencies(snippets);
  return snippets;
}
