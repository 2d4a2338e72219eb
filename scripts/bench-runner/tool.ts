import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKSPACE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The private package that holds the peers, so they are installed for the benchmark only. */
export const BENCHMARKS_DIR = path.join(WORKSPACE_ROOT, 'benchmarks');

/** One unit of work: a snippet, or a migration of a peer. Its id names its effect row. */
export interface Unit {
  number: number;
  /** `0001_record_unit`: a valid snippet id, and a name every peer sorts in number order. */
  id: string;
}

export function units(count: number): Unit[] {
  return Array.from({ length: count }, (_, i) => ({ number: i + 1, id: `${String(i + 1).padStart(4, '0')}_record_unit` }));
}

/** A child process: what a user types, run from the tool's directory with DATABASE_URL set. */
export interface Command {
  file: string;
  args: string[];
  env?: Record<string, string>;
}

/** A migration tool (or the runner, or the floor) as the benchmark drives it. */
export interface Tool {
  name: string;
  /** The command line as the report shows it. */
  invocation: string;
  /** Writes the units in the tool's own format into `dir`, an empty directory. */
  prepare(dir: string, units: Unit[]): Promise<void>;
  /** Applies every unit to an empty database. */
  apply(dir: string, units: Unit[]): Command;
  /** The same invocation once everything is applied, when it differs from `apply`. */
  idle?(dir: string, units: Unit[]): Command;
  /** Counts the units the tool's ledger records, to prove it ran them all, once. */
  ledgerCount: string;
}
