/** What each seeded table's ids are numbered in, so ids never collide across tables. */
const ID_SPACE = { user: 1, workspace: 2, thread: 3, message: 4 } as const;

type IdSpace = keyof typeof ID_SPACE;

/** A valid v4-shaped uuid made from a counter: `0000000k-0000-4000-8000-00000000000n`. */
export function seedUuid(space: IdSpace, n: number): string {
  const prefix = ID_SPACE[space].toString(16).padStart(8, '0');
  return `${prefix}-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/** The id the seed gives its `n`-th user (1-based). */
export const seedUserId = (n: number): string => seedUuid('user', n);

/** The id the seed gives its `n`-th workspace (1-based). */
export const seedWorkspaceId = (n: number): string => seedUuid('workspace', n);
