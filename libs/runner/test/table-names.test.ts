import { pgSchema, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { alias } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.ts';
import { noSuchTable, suggestTable } from '../src/checks/missing-tables.ts';
import { fingerprintTables } from '../src/checks/schema-fingerprint.ts';
import { columnName, parseTableName, spellTable, tableName, tableParts, type QualifiedTable } from '../src/snippets/table-names.ts';

describe('parseTableName', () => {
  it.each([
    ['trades', 'public.trades'],
    ['User', 'public.user'],
    ['public.User', 'public.user'],
    ['"User"', 'public.User'],
    ['public."User"', 'public.User'],
    ['PUBLIC."OrderLine"', 'public.OrderLine'],
    ['"My Schema".t', 'My Schema.t'],
    ['"My Schema"."Some ""quoted"" Table"', 'My Schema.Some "quoted" Table'],
    ['billing.trades', 'billing.trades'],
    ['  billing . "Trades"  ', 'billing.Trades'],
    ['"user"', 'public.user'],
    ['"a.b"', 'public.a.b'],
    ['_t$1', 'public._t$1'],
    ['Überweisung', 'public.Überweisung'],
  ])('%s names %s', (text, qualified) => {
    expect(parseTableName(text)).toBe(qualified);
  });

  it.each([
    ['', 'a name is missing'],
    ['"User', 'a quoted name has no closing "'],
    ['""', '"" is an empty name'],
    ['public.', 'a name is missing'],
    ['.t', "unexpected '.' at position 1"],
    ['a.b.c', 'give at most a schema and a table'],
    ['1trades', "unexpected '1' at position 1"],
    ['trades;drop', "unexpected ';' at position 7"],
    ['"User"x', "unexpected 'x' at position 7"],
    ['"s.x".t', 'the schema name "s.x" holds a dot, which the runner cannot name'],
    [`"${'x'.repeat(64)}"`, `"${'x'.repeat(64)}" is longer than PostgreSQL's 63 bytes`],
  ])('refuses %j: %s', (text, why) => {
    const attempt = () => parseTableName(text, '--table');
    expect(attempt).toThrow(InputError);
    expect(attempt).toThrow(`--table '${text}' is not a table name: ${why}`);
    expect(attempt).toThrow('"User" or public."User"');
  });

  it('splits the internal form at the first dot, so a table name may hold one', () => {
    expect(tableParts(parseTableName('"a.b"'))).toEqual(['public', 'a.b']);
  });

  it.each([
    ['public.trades', { short: true }, 'trades'],
    ['public.User', { short: true }, '"User"'],
    ['public.User', {}, 'public."User"'],
    ['My Schema.t', { short: true }, '"My Schema".t'],
    ['public.Some "quoted" Table', { short: true }, '"Some ""quoted"" Table"'],
  ] as const)('spells %s as a user must type it', (table, options, spelled) => {
    expect(spellTable(table as QualifiedTable, options)).toBe(spelled);
    // What spellTable writes, parseTableName reads back.
    expect(parseTableName(spelled)).toBe(table);
  });
});

describe('tableName and columnName', () => {
  const users = pgTable('User', { id: uuid('id').primaryKey(), text: text('text') });
  const ledger = pgSchema('Billing').table('LedgerEntry', { id: uuid('id') });

  it('names a drizzle table by its exact name and schema', () => {
    expect(tableName(users)).toBe('public.User');
    expect(tableName(ledger)).toBe('Billing.LedgerEntry');
    expect(tableName(alias(users, 'u'))).toBe('public.User');
  });

  it('reads strings with PostgreSQL rules', () => {
    expect(tableName('"User"')).toBe('public.User');
    expect(tableName('User')).toBe('public.user');
  });

  it('refuses anything else', () => {
    expect(() => tableName(42 as never, 'touches')).toThrow('touches must be a drizzle table or a table name');
  });

  it('names a drizzle column by its exact name, and only of its own table', () => {
    expect(columnName(users.id, tableName(users), 'key')).toBe('id');
    expect(columnName('createdAt', tableName(users), 'key')).toBe('createdAt');
    expect(() => columnName(ledger.id, tableName(users), 'batch() key')).toThrow('batch() key is a column of "Billing"."LedgerEntry", not of public."User"');
  });
});

describe('suggestTable', () => {
  const tables = ['public.User', 'public.OrderLine', 'public.trades', 'public.user_settings', 'billing.trades', 'audit.User'] as QualifiedTable[];

  it.each([
    ['public.user', 'public.User'],
    ['public.orderline', 'public.OrderLine'],
    ['public.order_line', 'public.OrderLine'],
    ['public.trade', 'public.trades'],
    ['billing.trade', 'billing.trades'],
    ['audit.user', 'audit.User'],
    ['other.orderline', 'public.OrderLine'],
  ])('%s may mean %s', (wanted, meant) => {
    expect(suggestTable(wanted as QualifiedTable, tables)).toBe(meant);
  });

  it('suggests nothing far off', () => {
    expect(suggestTable('public.invoices' as QualifiedTable, tables)).toBeUndefined();
  });

  it('says how to type the suggestion', () => {
    expect(noSuchTable('--table', 'user', 'public.user' as QualifiedTable, tables).message).toBe('--table user: no such table; did you mean "User"?');
    expect(noSuchTable('--table', 'audit.usr', 'audit.usr' as QualifiedTable, tables).message).toBe('--table audit.usr: no such table; did you mean audit."User"?');
    expect(noSuchTable('--table', 'invoices', 'public.invoices' as QualifiedTable, tables).message).toContain('no table public.invoices in this database (unquoted names fold to lower case');
  });
});

describe('fingerprintTables', () => {
  it('reads the tables out of a schema fingerprint, as %I quoted them', () => {
    const entries = [
      'relation public."User" kind=r',
      'relation public."user" kind=r',
      'relation public.trades kind=p',
      'relation "My Schema"."a ""b""" kind=f',
      'relation public.trades_view kind=v',
      'relation public."User_id_seq" kind=S',
      'column public."User".id uuid not null',
    ];
    expect(fingerprintTables(entries)).toEqual(['public.User', 'public.user', 'public.trades', 'My Schema.a "b"']);
  });
});
