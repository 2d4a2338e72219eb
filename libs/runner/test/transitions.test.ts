import { describe, expect, it } from 'vitest';
import { ledgerMoveAllowed, ledgerStatesBefore, walkMoveAllowed, walkStatesBefore, type LedgerState, type LedgerStatus } from '../src/store/transitions.ts';

describe('the transition table', () => {
  it('lets only an applied snippet be reverted, and only a pending one be recorded', () => {
    expect(ledgerStatesBefore('reverted')).toEqual(['applied']);
    for (const status of ['applied', 'baselined', 'squashed'] as const) expect(ledgerStatesBefore(status)).toEqual(['pending']);
  });

  it('keeps baselined, squashed and reverted final: nothing runs or reverts them again', () => {
    const statuses: LedgerStatus[] = ['applied', 'baselined', 'reverted', 'squashed'];
    for (const from of ['baselined', 'squashed', 'reverted'] as LedgerState[]) {
      expect(statuses.filter((to) => ledgerMoveAllowed(from, to))).toEqual([]);
    }
  });

  it('never drops a batched snippet’s checkpoint while a key range is open', () => {
    expect(walkMoveAllowed('open', 'none')).toBe(false);
    expect(walkStatesBefore('none')).toEqual(['idle']);
    expect(walkMoveAllowed('none', 'open')).toBe(false); // a walk is split under a checkpoint
  });
});
