// `npx plop snippet NAME [basic|delete]`: writes the same files as `nx g snippet` does in
// the workspace, because both call renderSnippet from @snippets/runner.
import { register } from 'tsx/esm/api';

register();
const { scaffoldSnippetInDir } = await import('@snippets/runner/scaffold');

export default function (plop) {
  plop.setGenerator('snippet', {
    description: 'Add the next numbered snippet and its test, and update snippets.lock',
    prompts: [
      { type: 'input', name: 'name', message: 'What does the snippet do (e.g. backfill-settlement-currency)?' },
      {
        type: 'list',
        name: 'kind',
        message: 'Which kind of snippet?',
        choices: ['basic', 'delete'],
        default: 'basic',
        // Without a terminal nobody can answer: take the default.
        when: () => Boolean(process.stdin.isTTY),
      },
    ],
    actions: [
      (answers) => {
        const { id, files } = scaffoldSnippetInDir(process.cwd(), { name: answers.name, kind: answers.kind ?? 'basic' });
        return `${id}: wrote ${Object.keys(files).join(', ')}`;
      },
    ],
  });
}
