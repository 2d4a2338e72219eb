/** A domain function refused its input or the data it found; nothing was changed. */
export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    /** The function that refused, e.g. `mergeDuplicateDeals`. */
    readonly operation: string,
    detail: string,
  ) {
    super(`${operation}: ${detail}`);
  }
}
