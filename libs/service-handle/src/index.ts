import type { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The runner keeps the scope of the snippet code under way in an AsyncLocalStorage it
 * registers under this global symbol, so that this package finds it whichever copy of
 * either package a process loaded, and without depending on the runner.
 */
const CURRENT_SNIPPET = Symbol.for('@snippets/current-snippet');

type Registry = { [CURRENT_SNIPPET]?: AsyncLocalStorage<unknown> };

/** The database handle of the snippet whose code is running, if the caller runs inside one. */
export function currentSnippetDb(): object | undefined {
  const scope = (globalThis as Registry)[CURRENT_SNIPPET]?.getStore();
  if (typeof scope !== 'object' || scope === null || !('db' in scope)) return undefined;
  return (scope.db ?? undefined) as object | undefined;
}

/**
 * Wraps a service's module-level drizzle database so that, while a snippet's code runs, every
 * use of it goes to the snippet's own transaction (its `db`), and otherwise to `db` itself:
 *
 *     export const db = snippetAware(drizzle(pool, { schema }));
 *
 * Service code keeps importing `db`; in the service's own process nothing changes but one
 * lookup per property access. Inside a snippet the handle is the runner's drizzle database
 * (postgres.js in production, PGlite in tests): drizzle's query builders return the same
 * rows whatever the driver, but `db.execute()` and `db.$client` keep the driver's shapes.
 */
export function snippetAware<Db extends object>(db: Db): Db {
  return new Proxy(db, {
    // Methods are called with the proxy as `this`, so what they read of `this` resolves the same way.
    get: (target, property) => Reflect.get(currentSnippetDb() ?? target, property),
    has: (target, property) => Reflect.has(currentSnippetDb() ?? target, property),
  });
}
