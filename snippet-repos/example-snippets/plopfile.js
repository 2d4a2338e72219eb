// `npx plop snippet NAME`, `npx plop delete-snippet NAME TABLE`, `npx plop batched-snippet NAME TABLE`,
// `npx plop call-snippet NAME FUNCTION [MODULE]`, `npx plop input-snippet NAME INPUT [TABLE]` and
// `npx plop squash LEDGER` write the same files as `nx g snippet [--kind=delete|batched|call|input]`
// and `nx g squash` in the workspace: both call the renderers of @snippets/runner.
import { register } from 'tsx/esm/api';

register();
const { DEFAULT_INPUT, scaffoldSnippetInDir, squashInDir } = await import('@snippets/runner/scaffold');

export default function (plop) {
  const namePrompt = { type: 'input', name: 'name', message: 'What does the snippet do (e.g. backfill-settlement-currency)?' };
  const tablePrompt = (message) => ({ type: 'input', name: 'table', message });
  const functionPrompts = [
    { type: 'input', name: 'function', message: "Which service function does it call with the snippet's db and params (e.g. mergeDuplicateDeals)?" },
    { type: 'input', name: 'from', message: "From which module (empty: the service's /domain subpath)?" },
  ];
  const snippetGenerator = (kind, description, prompts) => ({
    description,
    prompts,
    actions: [
      async (answers) => {
        const { id, files } = await scaffoldSnippetInDir(process.cwd(), {
          name: answers.name,
          kind,
          table: answers.table,
          function: answers.function,
          from: answers.from,
          input: answers.input,
        });
        return `${id}: wrote ${Object.keys(files).join(', ')}`;
      },
    ],
  });
  plop.setGenerator('snippet', snippetGenerator('basic', 'Add the next numbered snippet and its test, and update snippets.lock', [namePrompt]));
  plop.setGenerator(
    'delete-snippet',
    snippetGenerator('delete', 'Add a snippet that deletes approved rows, checking the cascade first', [namePrompt, tablePrompt('Which table does it delete from (e.g. api_keys)?')]),
  );
  plop.setGenerator(
    'batched-snippet',
    snippetGenerator('batched', 'Add a snippet that walks a big table in resumable batches', [namePrompt, tablePrompt('Which table does it walk (e.g. trades)?')]),
  );

  plop.setGenerator(
    'call-snippet',
    snippetGenerator('call', "Add a snippet that calls a function of the service's code with its db and reviewed params", [namePrompt, ...functionPrompts]),
  );
  plop.setGenerator(
    'input-snippet',
    snippetGenerator('input', 'Add a snippet that reads a CSV input kept out of git, with its fixture, and list the input in the README', [
      namePrompt,
      { type: 'input', name: 'input', message: 'What is the input called (e.g. accounts)?', default: DEFAULT_INPUT },
      tablePrompt("Which table does it update by the input's id column (empty: none)?"),
    ]),
  );

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
