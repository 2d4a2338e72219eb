import { DomainError } from './errors.ts';

/** Checks one id param: a positive integer, as the tables' serial keys are. */
export function requireId(operation: string, param: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new DomainError(operation, `${param} must be a positive integer id, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** Checks a list of ids: not empty, each a positive integer, none twice. */
export function requireIds(operation: string, param: string, value: unknown): number[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new DomainError(operation, `${param} must be a non-empty array of ids, got ${JSON.stringify(value)}`);
  }
  const ids = value.map((id, i) => requireId(operation, `${param}[${i}]`, id));
  const repeated = ids.find((id, i) => ids.indexOf(id) !== i);
  if (repeated !== undefined) throw new DomainError(operation, `${param} lists ${repeated} twice`);
  return ids;
}

/** The first of `wanted` missing from `found`, to name it in the error. */
export function firstMissing(wanted: number[], found: Iterable<number>): number | undefined {
  const present = new Set(found);
  return wanted.find((id) => !present.has(id));
}
