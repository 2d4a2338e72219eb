// Local paths only, for now: S3 and HTTPS sources are being added.
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InputError } from '../errors.ts';

export interface InputSource {
  readonly display: string;
  open(): Promise<Readable>;
}

export function inputSource(location: string, options: { input: string; baseDir: string; env: Record<string, string | undefined> }): InputSource {
  const file = path.resolve(options.baseDir, location);
  return {
    display: location,
    async open() {
      if (!existsSync(file)) throw new InputError(`input ${options.input}: ${location} does not exist; give the path of the approved file`, { subject: '--input' });
      return createReadStream(file);
    },
  };
}
