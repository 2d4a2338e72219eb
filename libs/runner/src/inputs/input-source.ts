import { open as openFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { asRunner } from '../database/connection-guard.ts';
import { describeCause, InputError } from '../errors.ts';
import { httpsLocation, openHttps } from './https-source.ts';
import { openS3Object, s3Location } from './s3-source.ts';

/**
 * Where an input's bytes come from for one run: `--input NAME=LOCATION` gives a local path,
 * a `file://` URL, `s3://BUCKET/KEY` or an `https://` URL. The runner copies them once to a
 * local file (hashing as it copies) and reads only that copy.
 */
export interface InputSource {
  /** The location for messages: never credentials, tokens or a URL's query string (signed URLs carry secrets there). */
  readonly display: string;
  /** Opens the bytes as a stream. Fails with InputError (exit 2) naming the input and `display` and the fix. */
  open(): Promise<Readable>;
}

export interface InputSourceOptions {
  /** The input's name, as the snippet declares it. */
  input: string;
  /** What a relative path is relative to. */
  baseDir: string;
  /** Where AWS_* and SNIPPETS_INPUT_TOKEN* are read; never process.env behind the caller's back. */
  env: Record<string, string | undefined>;
}

const FORMS = 'a path, file:///path, s3://BUCKET/KEY or https://host/path';
const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

export function inputSource(location: string, options: InputSourceOptions): InputSource {
  const { input } = options;
  if (location.trim() === '') {
    throw new InputError(`input ${input}: the location is empty; pass --input ${input}=LOCATION (${FORMS})`, { subject: input });
  }
  const scheme = SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return fileSource(path.resolve(options.baseDir, location), input);
  if (scheme === 'file') return fileSource(filePath(location, input), input);
  // The runner fetches before any snippet's code runs; asRunner marks the fetch's sockets as
  // the runner's all the same, so the connection guard never takes it for a snippet's call.
  if (scheme === 's3') {
    const target = s3Location(location, input);
    return { display: target.display, open: () => asRunner(() => openS3Object(target, options.env)) };
  }
  if (scheme === 'https' || scheme === 'http') {
    const target = httpsLocation(location, input, options.env);
    return { display: target.display, open: () => asRunner(() => openHttps(target)) };
  }
  throw new InputError(`input ${input}: '${scheme}:' locations are not supported; use ${FORMS}`, { subject: input });
}

function filePath(location: string, input: string): string {
  try {
    return fileURLToPath(location);
  } catch (error) {
    throw new InputError(`input ${input}: not a local file URL (${describeCause(error)}); use file:///absolute/path or a plain path`, {
      subject: input,
      cause: error,
    });
  }
}

function fileSource(file: string, input: string): InputSource {
  return {
    display: file,
    async open() {
      const handle = await openFile(file, 'r').catch((error: unknown) => {
        throw fileError(error, file, input);
      });
      const stat = await handle.stat();
      if (!stat.isFile()) {
        await handle.close();
        throw new InputError(`input ${input}: ${file} is not a file; pass the file's path with --input ${input}=PATH`, { subject: input });
      }
      return handle.createReadStream();
    },
  };
}

function fileError(error: unknown, file: string, input: string): InputError {
  const code = (error as NodeJS.ErrnoException).code;
  const message =
    code === 'ENOENT'
      ? `${file} does not exist; pass an existing file with --input ${input}=PATH`
      : code === 'EACCES' || code === 'EPERM'
        ? `${file} cannot be read (permission denied); let the runner's user read it`
        : `${file} cannot be opened (${describeCause(error)}); check the path given with --input ${input}=PATH`;
  return new InputError(`input ${input}: ${message}`, { subject: input, cause: error });
}
