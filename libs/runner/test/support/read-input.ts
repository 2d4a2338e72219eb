/**
 * Reads one input location as the runner would and prints the sha256 of its bytes: run in
 * a child process by input-sources.test.ts, where NODE_EXTRA_CA_CERTS is read at start-up.
 * Usage: node --import tsx read-input.ts LOCATION [INPUT]
 */
import { createHash } from 'node:crypto';
import { inputSource } from '../../src/inputs/input-source.ts';

const [location = '', input = 'accounts'] = process.argv.slice(2);
try {
  const stream = await inputSource(location, { input, baseDir: process.cwd(), env: process.env }).open();
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  process.stdout.write(`${hash.digest('hex')}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = (error as { exitCode?: number }).exitCode ?? 1;
}
