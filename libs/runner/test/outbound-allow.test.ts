import { describe, expect, it } from 'vitest';
import { hostAllowed } from '../src/database/connection-guard.ts';

describe("outbound.allow entries against the connection guard's destinations", () => {
  it.each([
    ['reports.internal:5432', ['reports.internal'], true],
    ['reports.internal:5432', ['REPORTS.internal:5432'], true],
    ['reports.internal:5432', ['reports.internal:5433'], false],
    ['reports.internal.evil:5432', ['reports.internal'], false],
    ['::1:5432', ['[::1]:5432'], true],
    ['::1:5432', ['[::1]'], true],
    ['unix:/var/run/postgresql/.s.PGSQL.5432', ['unix:/var/run/postgresql'], true],
    ['unix:/var/run/postgresql/.s.PGSQL.5432', ['unix:/var/run/postgresql/.s.PGSQL.5432'], true],
    ['unix:/var/run/postgresql-other/.s.PGSQL.5432', ['unix:/var/run/postgresql'], false],
    ['127.0.0.1:5432', [], false],
  ])('%s with %j: %s', (to, allow, expected) => {
    expect(hostAllowed(to, allow)).toBe(expected);
  });
});
