import path from 'node:path';
import { BENCHMARKS_DIR, type Tool } from '../tool.ts';

/** One connection, one transaction per unit with its effect and ledger rows: no tool does less. */
export const floor: Tool = {
  name: 'floor (postgres.js loop)',
  invocation: '`node benchmarks/floor.mjs N`',
  prepare: async () => {},
  apply: (_dir, units) => ({ file: process.execPath, args: [path.join(BENCHMARKS_DIR, 'floor.mjs'), String(units.length)] }),
  ledgerCount: 'select count(*)::int as n from floor_ledger',
};
