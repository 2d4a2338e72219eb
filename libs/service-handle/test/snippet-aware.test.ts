import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { currentSnippetDb, snippetAware } from '../src/index.ts';

/** A stand-in for a drizzle database: methods that read `this`, as drizzle's do. */
class Handle {
  constructor(readonly name: string) {}
  select(): string {
    return `select on ${this.name}`;
  }
}

// What the runner registers (libs/runner/src/database/connection-guard.ts): the contract this package reads.
const storage = new AsyncLocalStorage<{ db: unknown }>();
(globalThis as Record<symbol, unknown>)[Symbol.for('@snippets/current-snippet')] ??= storage;
const registered = (globalThis as Record<symbol, AsyncLocalStorage<{ db: unknown }>>)[Symbol.for('@snippets/current-snippet')]!;

describe('snippetAware', () => {
  const service = snippetAware(new Handle('the service pool'));

  it('is the handle it wraps outside a snippet', () => {
    expect(currentSnippetDb()).toBeUndefined();
    expect(service.select()).toBe('select on the service pool');
    expect(service).toBeInstanceOf(Handle);
  });

  it("is the snippet's db while a snippet's code runs, across awaits, and the wrapped handle again afterwards", async () => {
    const snippetDb = new Handle('the snippet transaction');
    await registered.run({ db: snippetDb }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(service.select()).toBe('select on the snippet transaction');
      expect(service.name).toBe('the snippet transaction');
    });
    expect(service.select()).toBe('select on the service pool');
  });

  it('leaves a scope without a db (the runner itself) on the wrapped handle', () => {
    registered.run(Symbol('the runner') as never, () => expect(service.select()).toBe('select on the service pool'));
  });
});
