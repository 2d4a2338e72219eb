import { describe, expect, it } from 'vitest';
import { defineSnippet } from '../src/snippets/define-snippet.ts';
import type { SnippetFile } from '../src/snippets/discovery.ts';
import type { LedgerRow } from '../src/store/ledger-schema.ts';
import type { LoadedSnippet } from '../src/snippets/load-snippets.ts';
import { buildManifest } from '../src/snippets/manifest.ts';
import { computeStatus, plan } from '../src/planning/plan.ts';

function file(id: string, checksum = `sum-${id}`): SnippetFile {
  return { id, number: Number(id.slice(0, 4)), file: `/repo/snippets/${id}.ts`, displayPath: `snippets/${id}.ts`, checksum };
}

function loaded(id: string, dependsOn: string[] = [], requires: string[] = []): LoadedSnippet {
  return {
    ...file(id),
    definition: { ...defineSnippet({ description: id, dependsOn, requires: { migrations: requires }, touches: [], up: async () => {} }), touches: [] },
  };
}

function row(id: string, status: LedgerRow['status'] = 'applied', checksum = `sum-${id}`): LedgerRow {
  return {
    repo: 'r', id, number: Number(id.slice(0, 4)), checksum, status, description: null, gitSha: null, image: null,
    approvedBy: null, executedBy: 'x', host: 'h', ciRunUrl: null, startedAt: null, finishedAt: new Date('2026-01-01T00:00:00Z'),
    durationMs: 1, rowsChanged: {}, verifyResult: null, error: null, servicePackage: null, serviceVersion: null,
  };
}

const ids = ['0001_a', '0002_b', '0003_c'];

describe('plan', () => {
  it('is pending = all minus recorded, dependencies first, then by number', () => {
    const snippets = [loaded('0001_a'), loaded('0002_b', ['0003_c']), loaded('0003_c'), loaded('0004_d')];
    const files = snippets.map((s) => file(s.id));
    const result = plan({ files, snippets, ledger: [row('0001_a')], manifest: buildManifest(files) });
    expect(result.refusals).toEqual([]);
    expect(result.pending.map((s) => s.id)).toEqual(['0003_c', '0002_b', '0004_d']);
  });

  it('runs a snippet as soon as its dependencies have run, before any higher-numbered one', () => {
    const snippets = [
      loaded('0001_a', ['0004_d']),
      loaded('0002_b', ['0004_d', '0001_a', '0004_d']),
      loaded('0003_c'),
      loaded('0004_d', ['0005_e']),
      loaded('0005_e'),
      loaded('0006_f'),
    ];
    const files = snippets.map((s) => file(s.id));
    const result = plan({ files, snippets, ledger: [], manifest: buildManifest(files) });
    expect(result.pending.map((s) => s.id)).toEqual(['0003_c', '0005_e', '0004_d', '0001_a', '0002_b', '0006_f']);
  });

  it('never skips an older pending snippet behind a newer applied one (no high-water mark)', () => {
    const snippets = ids.map((id) => loaded(id));
    const files = snippets.map((s) => file(s.id));
    const result = plan({ files, snippets, ledger: [row('0001_a'), row('0003_c')], manifest: buildManifest(files) });
    expect(result.pending.map((s) => s.id)).toEqual(['0002_b']);
  });

  it('refuses a changed applied file, a missing applied file and a tree that differs from the manifest', () => {
    const snippets = [loaded('0001_a'), loaded('0003_c')];
    const files = [file('0001_a', 'edited'), file('0003_c')];
    const manifest = buildManifest([file('0001_a'), file('0002_b')]);
    const result = plan({ files, snippets, ledger: [row('0001_a'), row('0002_b')], manifest });
    expect(result.refusals.map((r) => `${r.check} ${r.subject}`)).toEqual([
      'changed-applied snippets/0001_a.ts',
      'missing-applied 0002_b',
      'manifest-mismatch snippets/0001_a.ts',
      'manifest-mismatch snippets/0003_c.ts',
      'manifest-mismatch 0002_b.ts',
    ]);
  });

  it('guards an empty ledger facing history unless the run names what it expects', () => {
    const snippets = ids.map((id) => loaded(id));
    const files = snippets.map((s) => file(s.id));
    const manifest = buildManifest(files);
    expect(plan({ files, snippets, ledger: [], manifest }).refusals.map((r) => r.check)).toEqual(['history-guard']);
    expect(plan({ files, snippets, ledger: [], manifest, expect: ids }).refusals).toEqual([]);
    expect(plan({ files: files.slice(0, 1), snippets: snippets.slice(0, 1), ledger: [], manifest: buildManifest(files.slice(0, 1)) }).refusals).toEqual([]);
  });

  it('accepts --expect ids that are already applied, so a retried pipeline is a no-op', () => {
    const snippets = ids.map((id) => loaded(id));
    const files = snippets.map((s) => file(s.id));
    const result = plan({ files, snippets, ledger: ids.map((id) => row(id)), manifest: buildManifest(files), expect: ids });
    expect(result).toEqual({ pending: [], refusals: [] });
  });

  it('refuses a pending snippet that depends on a reverted one, or needs an unapplied service migration', () => {
    const snippets = [loaded('0001_a'), loaded('0002_b', ['0001_a'], ['0042_col'])];
    const files = snippets.map((s) => file(s.id));
    const result = plan({
      files,
      snippets,
      ledger: [row('0001_a', 'reverted')],
      manifest: buildManifest(files),
      serviceMigrations: { hashByTag: new Map([['0042_col', 'h42']]), appliedHashes: new Set() },
    });
    expect(result.refusals.map((r) => r.check)).toEqual(['revert-blocked', 'requires-migrations']);
  });
});

describe('computeStatus', () => {
  it('reports applied, baselined, reverted, pending, changed and missing', () => {
    const files = [file('0001_a'), file('0002_b'), file('0003_c', 'edited'), file('0004_d'), file('0006_f')];
    const ledger = [row('0001_a'), row('0002_b', 'baselined'), row('0003_c'), row('0004_d', 'reverted', 'old'), row('0005_e')];
    expect(computeStatus(files, ledger).map((e) => `${e.id}:${e.state}`)).toEqual([
      '0001_a:applied',
      '0002_b:baselined',
      '0003_c:changed',
      '0004_d:reverted',
      '0005_e:missing',
      '0006_f:pending',
    ]);
  });
});

describe('buildManifest', () => {
  it('hashes each snippet and, over all of them, changes when any one changes', () => {
    const a = buildManifest([file('0001_a'), file('0002_b')]);
    const b = buildManifest([file('0001_a'), file('0002_b', 'edited')]);
    expect(a.snippets).toEqual({ '0001_a': 'sum-0001_a', '0002_b': 'sum-0002_b' });
    expect(a.total).toMatch(/^[0-9a-f]{64}$/);
    expect(b.total).not.toBe(a.total);
  });
});
