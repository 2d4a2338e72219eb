import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RUN_OUTPUT = fileURLToPath(new URL('../src/cli/run-output.ts', import.meta.url));

/** Runs `body` in a node process whose stdout is a pipe, with `out` a runOutput on it. */
function withOutput(body: string): Promise<{ stdout: string; code: number | null; signal: NodeJS.Signals | null }> {
  const script = `import { runOutput } from ${JSON.stringify(RUN_OUTPUT)};\nconst out = runOutput(process.stdout);\n${body}`;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], (_error, stdout) => {
      resolve({ stdout, code: child.exitCode, signal: child.signalCode });
    });
  });
}

describe("a run's output into a pipe", () => {
  it('keeps every line, in order, when the process exits before the lines were due', async () => {
    const result = await withOutput(`for (let i = 1; i <= 3; i++) out.write('line ' + i + '\\n');`);
    expect(result.stdout).toBe('line 1\nline 2\nline 3\n');
    expect(result.code).toBe(0);
  });

  it('writes what it gathered when a signal stops the process, which still dies of that signal', async () => {
    const result = await withOutput(`out.write('→ 0002_second\\n');\nprocess.kill(process.pid, 'SIGTERM');\nsetTimeout(() => out.write('never\\n'), 60_000);`);
    expect(result.stdout).toBe('→ 0002_second\n');
    expect(result.signal).toBe('SIGTERM');
  });

  it('writes a line within a tenth of a second while the process waits; SIGKILL loses only what came after', async () => {
    const result = await withOutput(
      `out.write('first\\n');\nawait new Promise((resolve) => setTimeout(resolve, 300));\nout.write('lost\\n');\nprocess.kill(process.pid, 'SIGKILL');`,
    );
    expect(result.stdout).toBe('first\n');
    expect(result.signal).toBe('SIGKILL');
  });
});
