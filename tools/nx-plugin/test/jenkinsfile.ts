/**
 * A parse-level reading of a declarative Jenkinsfile, for tests: Groovy's strings and
 * comments, balanced (), [] and {}, and the tree of `name(args) { ... }` blocks. It is not
 * Groovy's grammar and knows nothing of Jenkins' steps; there is no Jenkins here to ask.
 */
export interface JenkinsBlock {
  /** `stage` for `stage('Lock') {`, `if` for `if (x) {`, '' for a bare closure. */
  name: string;
  /** The text in the header's parentheses, e.g. `'Lock'`. */
  args: string;
  /** The text between the braces. */
  body: string;
  children: JenkinsBlock[];
}

const CLOSER: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Parses the file's single top-level block; throws with a line number on anything unbalanced. */
export function parseJenkinsfile(text: string): JenkinsBlock {
  const top: JenkinsBlock = { name: '', args: '', body: text, children: [] };
  // Open delimiters; a `{` also carries its block and where its body starts.
  const stack: { char: string; at: number; block?: JenkinsBlock }[] = [];
  const blocks: JenkinsBlock[] = [top];
  let header = '';
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const quote = /^('''|"""|'|")/.exec(rest)?.[1];
    if (quote) {
      const end = findStringEnd(text, i + quote.length, quote);
      if (end < 0) throw new Error(`line ${lineOf(text, i)}: unterminated ${quote} string`);
      header += text.slice(i, end);
      i = end;
      continue;
    }
    if (rest.startsWith('//')) {
      i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i);
      continue;
    }
    if (rest.startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`line ${lineOf(text, i)}: unterminated /* comment`);
      i = end + 2;
      continue;
    }
    const char = text[i]!;
    if (char === '{') {
      const match = /^(\w+)?\s*(?:\(([\s\S]*)\))?$/.exec(header.trim().replace(/^}\s*else\s*/, 'else '));
      const block: JenkinsBlock = { name: match?.[1] ?? '', args: match?.[2]?.trim() ?? '', body: '', children: [] };
      blocks.at(-1)!.children.push(block);
      blocks.push(block);
      stack.push({ char, at: i, block });
      header = '';
    } else if (char === '(' || char === '[') {
      stack.push({ char, at: i });
      header += char;
    } else if (char === ')' || char === ']' || char === '}') {
      const open = stack.pop();
      if (!open || CLOSER[open.char] !== char) {
        throw new Error(`line ${lineOf(text, i)}: '${char}' closes ${open ? `'${open.char}' of line ${lineOf(text, open.at)}` : 'nothing'}`);
      }
      if (open.block) {
        open.block.body = text.slice(open.at + 1, i);
        blocks.pop();
        header = '';
      } else header += char;
    } else if ((char === '\n' || char === ';') && stack.at(-1)?.char !== '(' && stack.at(-1)?.char !== '[') {
      header = '';
    } else header += char;
    i += 1;
  }
  if (stack.length) throw new Error(`line ${lineOf(text, stack.at(-1)!.at)}: '${stack.at(-1)!.char}' is never closed`);
  if (top.children.length !== 1) throw new Error(`expected one top-level block, found ${top.children.length}`);
  return top.children[0]!;
}

/** Index just past the closing quote; single-line quotes end at a newline. */
function findStringEnd(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') {
      i += 1;
      continue;
    }
    if (quote.length === 1 && text[i] === '\n') return -1;
    if (text.startsWith(quote, i)) return i + quote.length;
  }
  return -1;
}
