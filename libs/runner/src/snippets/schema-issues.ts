import type { BaseIssue } from 'valibot';

/**
 * One validation issue as a clause of an error line: the field's dotted path, then what is
 * wrong with it. `whole` names the value itself when the issue has no path.
 */
export function describeIssue(issue: BaseIssue<unknown>, whole: string): string {
  const field = issue.path?.map((item) => String(item.key)).join('.') || whole;
  if (issue.type === 'strict_object' && issue.path) return `${field} is not a known key`;
  if (issue.kind === 'schema' && issue.input === undefined) return `${field} is required`;
  return `${field} ${issue.message}`;
}
