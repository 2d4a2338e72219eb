import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csv, json, ndjson, type InputDeclaration } from '../src/inputs/declare-input.ts';
import { jsonAsNdjson, readRows, scanInput } from '../src/inputs/input-scan.ts';
import { SensitiveValues, MASK } from '../src/inputs/masking.ts';

/**
 * The three formats read to the same typed rows, and a row that fails its schema is named
 * by number and column, never by its value.
 */
const columns = { id: 'uuid', amount: 'integer', total: 'numeric', active: 'boolean', opened: 'date', note: 'text?' } as const;
const rows = [
  { id: '0b6c2d1e-3f4a-4b5c-8d6e-7f8091a2b3c4', amount: 12, total: '1234567890.123456789', active: true, opened: '2026-01-31', note: 'first, with a comma' },
  { id: '1c7d3e2f-4a5b-4c6d-9e7f-8091a2b3c4d5', amount: -3, total: '0.5', active: false, opened: '2025-12-01', note: null },
];
const csvText = `id,amount,total,active,opened,note,ignored\n${rows
  .map((r) => [r.id, r.amount, r.total, r.active ? 't' : 'false', r.opened, r.note === null ? '' : `"${r.note}"`, 'x'].join(','))
  .join('\n')}\n`;
const ndjsonText = rows.map((r) => JSON.stringify({ ...r, ignored: 1 })).join('\n');
const jsonText = JSON.stringify(rows);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'snippets-input-formats-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function readAll(name: string, text: string, declaration: InputDeclaration) {
  const file = path.join(dir, name);
  await writeFile(file, text);
  const input = { file, declaration, label: `input ${name}` };
  const index = await scanInput(input);
  const read: Record<string, unknown>[] = [];
  for await (const row of readRows(input, index)) read.push(row);
  return { index, read };
}

const refusal = (work: Promise<unknown>) =>
  work.then(
    () => '',
    (error: Error) => error.message,
  );

describe('input formats', () => {
  it.each([
    ['accounts.csv', csvText, csv({ columns })],
    ['accounts.ndjson', ndjsonText, ndjson({ columns })],
    ['accounts.json', jsonText, json({ columns })],
  ])('%s reads to typed rows, the undeclared column dropped', async (name, text, declaration) => {
    const { index, read } = await readAll(name, text, declaration);
    expect(index.rows).toBe(2);
    expect(read).toEqual(rows);
  });

  it('names the row and column of a value that fails its type, without the value', async () => {
    const bad = csvText.replace(',-3,', ',4.5e1,');
    const message = await refusal(readAll('bad.csv', bad, csv({ columns })));
    expect(message).toBe('input bad.csv row 2: column amount is not a whole number within ±2^53; fix the file (values are not shown, inputs are sensitive) and approve it again with snippets input add');
    const empty = await refusal(readAll('empty.csv', csvText.replace('2025-12-01', ''), csv({ columns })));
    expect(empty).toContain('row 2: column opened is empty, and the column is date, not date?');
    const json = await refusal(readAll('bad.ndjson', `${ndjsonText}\n{"id": "private-value-77",`, ndjson({ columns })));
    expect(json).toContain('row 3: is not valid JSON');
    expect(json).not.toContain('private-value-77');
  });

  it('refuses a header without a declared column, and a CSV field with a stray quote, by row', async () => {
    expect(await refusal(readAll('header.csv', csvText.replace('opened', 'opened_on'), csv({ columns })))).toBe(
      "input header.csv: the header has no column 'opened'; the snippet declares id, amount, total, active, opened, note",
    );
    const quoted = await refusal(readAll('quote.csv', csvText.replace('first, with', 'fi"rst-secret, with'), csv({ columns })));
    expect(quoted).toMatch(/^input quote.csv row 1: /);
    expect(quoted).not.toContain('secret');
  });

  it('reads a span of rows from the noted offsets, as a batch does', async () => {
    const many = ['n'];
    for (let i = 1; i <= 3_500; i++) many.push(String(i));
    const file = path.join(dir, 'many.csv');
    await writeFile(file, `\ufeff${many.join('\r\n')}`);
    const input = { file, declaration: csv({ columns: { n: 'integer' } }), label: 'input many' };
    const index = await scanInput(input);
    expect(index.starts.filter(Boolean)).toHaveLength(3);
    const span: unknown[] = [];
    for await (const row of readRows(input, index, 1_998, 3_001)) span.push(row.n);
    expect(span).toEqual(Array.from({ length: 1_003 }, (_, i) => 1_999 + i));
  });
});

describe('a JSON array walked in batches', () => {
  it('is read from NDJSON written beside it, which batches can start reading in the middle of', async () => {
    const many = Array.from({ length: 2_500 }, (_, i) => ({ n: i + 1, extra: 'x' }));
    const file = path.join(dir, 'many.json');
    await writeFile(file, JSON.stringify(many));
    const input = await jsonAsNdjson({ file, declaration: json({ columns: { n: 'integer' } }), label: 'input many' }, `${file}.ndjson`);
    expect(input.declaration.format).toBe('ndjson');
    const index = await scanInput(input);
    expect(index.rows).toBe(2_500);
    expect(index.starts.filter(Boolean)).toHaveLength(2);
    const span: unknown[] = [];
    for await (const row of readRows(input, index, 2_100, 2_103)) span.push(row.n);
    expect(span).toEqual([2_101, 2_102, 2_103]);
  });
});

describe('masking the values in hand', () => {
  it('masks sensitive values in a message, as whole tokens, and lets go of rows beyond those in hand', () => {
    const values = new SensitiveValues(['iban', 'holder']);
    values.hold({ iban: 'DE89370400440532013000', holder: 'Ada Lovelace', amount: 12 });
    expect(values.mask('moved DE89370400440532013000 of Ada Lovelace (12)')).toBe(`moved ${MASK} of ${MASK} (12)`);
    for (let i = 0; i < 10_000; i++) values.hold({ iban: `X${i}00`, holder: 'n/a' });
    expect(values.mask('DE89370400440532013000')).toBe('DE89370400440532013000');
    expect(values.mask('X999900 then X1')).toBe(`${MASK} then X1`);
  });
});
