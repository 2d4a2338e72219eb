import { describe, expect, it } from 'vitest';
import { evaluate, type Evidence, type GateResult } from '../src/evaluate.ts';
import type { RehearsalEvidence, SnippetRehearsal } from '../src/rehearsal.ts';

/** The pure part of the gates: evidence in, one verdict per gate out, with no database or file. */

const applied = (id: string, extra: Partial<SnippetRehearsal> = {}): SnippetRehearsal => ({
  id,
  outcome: 'applied',
  batched: false,
  durationMs: 20,
  rowsChanged: { 'public.accounts': { inserted: 0, updated: 1, deleted: 0 } },
  touches: ['public.accounts'],
  undo: { reversible: true, restored: true, differingTables: [] },
  ...extra,
});

const rehearsal = (snippets: SnippetRehearsal[], extra: Partial<RehearsalEvidence> = {}): RehearsalEvidence => ({
  base: 'dump prod.dump',
  setupMs: 100,
  snippets,
  schema: { added: [], removed: [] },
  ...extra,
});

const gates = (evidence: Partial<Evidence>): Record<string, GateResult> =>
  Object.fromEntries(evaluate({ rehearsals: [], durationBudgetMs: 1000, ...evidence }).map((r) => [r.gate, r]));

const statuses = (evidence: Partial<Evidence>) => Object.fromEntries(Object.entries(gates(evidence)).map(([gate, r]) => [gate, r.status]));

describe('evaluate', () => {
  it('passes every rehearsal gate when every pending snippet ran, stayed in its tables and its down restored them', () => {
    expect(statuses({ rehearsals: [rehearsal([applied('0001_fix'), applied('0002_fix')])] })).toEqual({
      rehearsal: 'passed',
      schema: 'passed',
      touches: 'passed',
      undo: 'passed',
      duration: 'passed',
    });
  });

  it('never passes a gate for a snippet that did not run: it is not checked, and named with the reason', () => {
    const results = gates({
      rehearsals: [
        rehearsal([
          applied('0001_fix'),
          { ...applied('0002_fix'), outcome: 'failed', phase: 'up', message: '0002_fix: up failed: boom', durationMs: undefined, rowsChanged: {} },
          { ...applied('0003_fix'), outcome: 'not-run', message: 'not run: 0002_fix failed before it', durationMs: undefined, rowsChanged: {} },
        ]),
      ],
    });
    expect(results.rehearsal).toMatchObject({ status: 'failed', summary: '1 of 3 pending snippet(s) ran and verified' });
    expect(results.duration).toMatchObject({
      status: 'not-checked',
      notChecked: ['0002_fix: failed in up, rolled back', '0003_fix: not run: 0002_fix failed before it'],
    });
    expect(results.schema!.status).toBe('not-checked');
    expect(results.touches!.notChecked).toEqual(['0002_fix: failed in up, rolled back', '0003_fix: not run: 0002_fix failed before it']);
  });

  it('counts a snippet refused for changing the schema as the schema gate’s finding, and a change the run left as one too', () => {
    const results = gates({
      rehearsals: [
        rehearsal([{ ...applied('0001_fix'), outcome: 'refused', phase: 'schema-changed', message: '0001_fix.ts: changed the schema (added column x)' }], {
          schema: { added: ['table public.audit_copy'], removed: [] },
        }),
      ],
    });
    expect(results.schema).toMatchObject({ status: 'failed', details: ['0001_fix.ts: changed the schema (added column x)', 'added table public.audit_copy'], notChecked: [] });
  });

  it('fails the touches gate with the tables a snippet changed beyond those it declares', () => {
    const results = gates({
      rehearsals: [
        rehearsal([
          {
            ...applied('0001_fix'),
            outcome: 'failed',
            phase: 'touches',
            message: 'changed public.ledger_lines, not declared in touches',
            rowsChanged: { 'public.accounts': { inserted: 0, updated: 1, deleted: 0 }, 'public.ledger_lines': { inserted: 2, updated: 0, deleted: 0 } },
          },
        ]),
      ],
    });
    expect(results.touches).toMatchObject({ status: 'failed', details: ['0001_fix: touches public.accounts but changed public.accounts +0 ~1 -0, public.ledger_lines +2 ~0 -0'], notChecked: [] });
  });

  it('fails the undo gate for a down that left tables different, notes snippets without a down, and does not pass one whose undo could not run', () => {
    const results = gates({
      rehearsals: [
        rehearsal([
          applied('0001_fix', { undo: { reversible: true, restored: false, differingTables: ['public.accounts'] } }),
          applied('0002_fix', { undo: { reversible: false } }),
          applied('0003_fix', { undo: { reversible: 'unknown', reason: '0002_fix failed' } }),
        ]),
      ],
    });
    expect(results.undo).toMatchObject({
      status: 'failed',
      details: ['0001_fix: down did not restore public.accounts', 'irreversible (no down): 0002_fix'],
      notChecked: ['0003_fix: its up then down could not be run: 0002_fix failed'],
    });
    const onlyUnknown = gates({ rehearsals: [rehearsal([applied('0003_fix', { undo: { reversible: 'unknown', reason: 'the run stopped' } })])] });
    expect(onlyUnknown.undo!.status).toBe('not-checked');
  });

  it('fails the duration gate for a snippet over the budget, naming it and the fix', () => {
    const results = gates({ durationBudgetMs: 50, rehearsals: [rehearsal([applied('0001_fix', { durationMs: 75 })])] });
    expect(results.duration).toMatchObject({ status: 'failed', details: ["0001_fix: took 75 ms, over the 50 ms budget; split it with transaction: 'batched'"] });
  });

  it('checks nothing of any snippet when the rehearsal was refused before one ran', () => {
    const results = gates({ rehearsals: [rehearsal([], { refused: { check: 'history', message: 'the ledger is empty but the repo has history' } })] });
    expect(results.rehearsal!.status).toBe('failed');
    for (const gate of ['schema', 'touches', 'undo', 'duration']) {
      expect(results[gate]).toMatchObject({ status: 'not-checked', notChecked: ['the rehearsal was refused before any snippet ran: the ledger is empty but the repo has history'] });
    }
  });

  it('judges the repo: the manifest, a graph with parallel leaves or unknown migrations, and missing tests', () => {
    const results = gates({
      manifest: { differences: [{ id: '0002_fix', problem: 'checksum-differs' }] },
      graph: {
        snippets: [
          { id: '0001_fix', dependsOn: [], requires: ['0007_add_index'], squash: false },
          { id: '0002_fix', dependsOn: [], requires: [], squash: false },
        ],
        serviceMigrations: ['0006_add_table'],
        versionSource: 'drizzle',
      },
      tests: { missing: ['0002_fix'], passed: true, output: '' },
    });
    expect(results.manifest).toMatchObject({ status: 'failed', details: ['0002_fix: checksum differs'] });
    expect(results.graph).toMatchObject({
      status: 'failed',
      details: [
        'parallel leaves 0001_fix, 0002_fix: two branches each added a snippet; make the later one depend on the other',
        '0001_fix: requires migration 0007_add_index, which the service does not have',
      ],
    });
    expect(results.tests).toMatchObject({ status: 'failed', details: ['0002_fix: has no 0002_fix.test.ts beside it'] });
  });

  it('gives only the gates asked for', () => {
    const results = evaluate({ rehearsals: [rehearsal([applied('0001_fix')])], durationBudgetMs: 1000 }, ['undo']);
    expect(results.map((r) => r.gate)).toEqual(['undo']);
  });
});
