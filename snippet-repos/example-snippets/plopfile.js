// `npx plop snippet NAME`, `npx plop delete-snippet NAME`, `npx plop batched-snippet NAME TABLE`
// and `npx plop squash LEDGER` write the same files as `nx g snippet [--kind=delete|batched]`
// and `nx g squash` in the workspace: both call the renderers of @snippets/runner.
import { register } from 'tsx/esm/api';

register();
const { scaffoldSnippetInDir, squashInDir } = await import('@snippets/runner/scaffold');

export default function (plop) {
  const snippetGenerator = (kind, description) => ({
    description,
    prompts: [{ type: 'input', name: 'name', message: 'What does the snippet do (e.g. backfill-settlement-currency)?' }],
    actions: [
      (answers) => {
        const { id, files } = scaffoldSnippetInDir(process.cwd(), { name: answers.name, kind });
        return `${id}: wrote ${Object.keys(files).join(', ')}`;
      },
    ],
  });
  plop.setGenerator('snippet', snippetGenerator('basic', 'Add the next numbered snippet and its test, and update snippets.lock'));
  plop.setGenerator('delete-snippet', snippetGenerator('delete', 'Add a snippet that deletes approved rows, with its test'));
  plop.setGenerator('batched-snippet', {
    description: 'Add a snippet that walks a big table in resumable batches, with its test',
    prompts: [
      { type: 'input', name: 'name', message: 'What does the snippet do (e.g. backfill-settlement-currency)?' },
      { type: 'input', name: 'table', message: 'Which table does it walk (e.g. trades)?' },
    ],
    actions: [
      (answers) => {
        const { id, files } = scaffoldSnippetInDir(process.cwd(), { name: answers.name, kind: 'batched', table: answers.table });
        return `${id}: wrote ${Object.keys(files).join(', ')}`;
      },
    ],
  });

  plop.setGenerator('squash', {
    description: 'Fold the snippets production has run into one squash; the originals move to snippets/archive/',
    prompts: [{ type: 'input', name: 'ledger', message: "Path to production's ledger export (snippets status --json)?" }],
    actions: [
      async (answers) => {
        const { id, moves } = await squashInDir(process.cwd(), { ledgerFile: answers.ledger });
        return `${id}: folded ${Object.keys(moves).filter((f) => !f.endsWith('.test.ts')).length} snippets into it`;
      },
    ],
  });
}
