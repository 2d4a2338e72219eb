import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.ts';
import { inputSource, type InputSource } from '../src/inputs/input-source.ts';
import { childEnv } from './support/cli.ts';

const RUNNER_DIR = fileURLToPath(new URL('..', import.meta.url));
const READ_INPUT = fileURLToPath(new URL('./support/read-input.ts', import.meta.url));
const run = promisify(execFile);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function readAll(source: InputSource): Promise<Buffer> {
  return buffer(await source.open());
}

/** The InputError `work` fails with; anything else fails the test. */
async function inputError(work: () => Promise<unknown>): Promise<InputError> {
  const error = await work().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(InputError);
  expect((error as InputError).exitCode).toBe(2);
  return error as InputError;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'input-sources-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('a local path', () => {
  const options = () => ({ input: 'accounts', baseDir: tmp, env: {} });
  const bytes = Buffer.from('id,email\n1,a@example.com\n');

  beforeAll(async () => {
    await mkdir(path.join(tmp, 'data'), { recursive: true });
    await writeFile(path.join(tmp, 'data', 'accounts.csv'), bytes);
  });

  it('is read relative to baseDir, and a file:// URL as its path', async () => {
    const relative = inputSource('data/accounts.csv', options());
    expect(relative.display).toBe(path.join(tmp, 'data', 'accounts.csv'));
    expect(await readAll(relative)).toEqual(bytes);
    const url = pathToFileURL(path.join(tmp, 'data', 'accounts.csv')).href;
    expect(await readAll(inputSource(url, options()))).toEqual(bytes);
  });

  it('that does not exist fails naming the input, the path and the fix', async () => {
    const error = await inputError(() => inputSource('data/missing.csv', options()).open());
    expect(error.message).toBe(
      `input accounts: ${path.join(tmp, 'data', 'missing.csv')} does not exist; pass an existing file with --input accounts=PATH`,
    );
    const directory = await inputError(() => inputSource('data', options()).open());
    expect(directory.message).toContain('is not a file');
  });

  it('and other schemes are refused with the supported forms', () => {
    expect(() => inputSource('ftp://host/accounts.csv', options())).toThrow(
      "input accounts: 'ftp:' locations are not supported; use a path, file:///path, s3://BUCKET/KEY or https://host/path",
    );
    expect(() => inputSource('http://host/accounts.csv?sig=secret', options())).toThrow(
      'input accounts: http://host/accounts.csv is plain http, which the runner refuses; use https://',
    );
    expect(() => inputSource('https://user:hunter2@host/accounts.csv', options())).toThrow(
      'input accounts: https://host/accounts.csv has credentials in the URL; remove them and set SNIPPETS_INPUT_TOKEN_ACCOUNTS',
    );
  });
});

describe('an s3:// location', () => {
  const bytes = randomBytes(300 * 1024);
  let server: S3rver;
  let endpoint: string;
  let s3: S3Client;
  const env = () => ({ AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
  const open = (location: string, extra: Record<string, string | undefined> = {}) =>
    inputSource(location, { input: 'accounts', baseDir: tmp, env: { ...env(), ...extra } }).open();

  beforeAll(async () => {
    server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(tmp, 's3') });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    s3 = new S3Client({
      region: 'us-east-1',
      endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    await s3.send(new CreateBucketCommand({ Bucket: 'ops-exports' }));
    await s3.send(new PutObjectCommand({ Bucket: 'ops-exports', Key: 'runs/accounts.csv', Body: bytes }));
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
  });

  it('reads the object through the SDK, byte for byte', async () => {
    const source = inputSource('s3://ops-exports/runs/accounts.csv', { input: 'accounts', baseDir: tmp, env: env() });
    expect(source.display).toBe('s3://ops-exports/runs/accounts.csv');
    expect(await readAll(source)).toEqual(bytes);
  });

  it('that does not exist fails naming the input and the location, never the credentials', async () => {
    const error = await inputError(() => open('s3://ops-exports/runs/missing.csv'));
    expect(error.message).toBe(
      'input accounts: s3://ops-exports/runs/missing.csv does not exist (NoSuchKey); check the key given with --input accounts=s3://BUCKET/KEY',
    );
    expect(error.message).not.toContain('S3RVER');
    // AWS_ENDPOINT_URL serves when AWS_ENDPOINT_URL_S3 is not set.
    const bucket = await inputError(() => open('s3://no-such-bucket/accounts.csv', { AWS_ENDPOINT_URL_S3: undefined, AWS_ENDPOINT_URL: endpoint }));
    expect(bucket.message).toContain('input accounts: s3://no-such-bucket/accounts.csv: bucket no-such-bucket does not exist (NoSuchBucket)');
  });

  it('with credentials the server rejects fails without printing them', async () => {
    // s3rver checks the key id, not the signature; S3's error names the key id it got.
    const error = await inputError(() =>
      open('s3://ops-exports/runs/accounts.csv', { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY0451', AWS_SECRET_ACCESS_KEY: 'wrong-secret-d41d8cd9' }),
    );
    expect(error.message).toBe(
      "input accounts: s3://ops-exports/runs/accounts.csv: S3 rejected the runner's credentials (InvalidAccessKeyId); check the task role or the AWS credentials it is given",
    );
    expect(error.message).not.toMatch(/AKIAWRONGKEY0451|wrong-secret-d41d8cd9/);
  });

  it('that the role may not read fails saying which permission to grant', async () => {
    // s3rver has no bucket policies: this server answers as S3 does when the role lacks s3:GetObject.
    const denying = http.createServer((_request, response) => {
      response.writeHead(403, { 'content-type': 'application/xml' });
      response.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    try {
      const port = await listen(denying);
      const error = await inputError(() => open('s3://ops-exports/runs/accounts.csv', { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}` }));
      expect(error.message).toBe(
        'input accounts: s3://ops-exports/runs/accounts.csv: access denied (AccessDenied); grant the task role s3:GetObject on it (without s3:ListBucket, S3 says this of a missing key too)',
      );
    } finally {
      denying.closeAllConnections();
      denying.close();
    }
  });

  it('on a server that does not answer fails saying it cannot reach it', async () => {
    const closed = await closedPort();
    const error = await inputError(() => open('s3://ops-exports/runs/accounts.csv', { AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${closed}` }));
    expect(error.message).toContain(`s3://ops-exports/runs/accounts.csv: cannot reach http://127.0.0.1:${closed} (ECONNREFUSED)`);
  });
});

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const probe = https.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('an https:// location', () => {
  const TOKEN = 'tok-7f3a9c1e5b2d';
  const bytes = randomBytes(200 * 1024);
  /** What each server was asked, with the Authorization header it got. */
  const seen: { server: 'origin' | 'other'; path: string; authorization: string | undefined }[] = [];
  let ca: string;
  let origin: https.Server;
  let other: https.Server;
  let base: string;
  let otherBase: string;

  beforeAll(async () => {
    const dir = path.join(tmp, 'tls');
    await mkdir(dir);
    ({ ca } = await issueCertificates(dir));
    const tls = { key: await readFile(path.join(dir, 'server.key')), cert: await readFile(path.join(dir, 'server.crt')) };

    other = https.createServer(tls, (request, response) => {
      seen.push({ server: 'other', path: request.url ?? '', authorization: request.headers.authorization });
      response.end(bytes);
    });
    otherBase = `https://127.0.0.1:${await listen(other)}`;

    origin = https.createServer(tls, (request, response) => {
      seen.push({ server: 'origin', path: request.url ?? '', authorization: request.headers.authorization });
      const redirects: Record<string, string> = { '/moved': '/data.csv', '/elsewhere': `${otherBase}/data.csv?sig=abc`, '/loop': '/loop' };
      const to = redirects[request.url ?? ''];
      if (to) response.writeHead(302, { location: to }).end();
      else if (request.url !== '/data.csv') response.writeHead(404).end();
      else if (request.headers.authorization !== `Bearer ${TOKEN}`) response.writeHead(401).end();
      else response.end(bytes);
    });
    base = `https://127.0.0.1:${await listen(origin)}`;
  });
  afterAll(async () => {
    for (const server of [origin, other]) {
      server?.closeAllConnections();
      await new Promise((resolve) => server?.close(resolve));
    }
  });

  /** Reads a location in a child process, which trusts the test CA unless told otherwise. */
  async function readInChild(location: string, env: Record<string, string | undefined>) {
    const childEnvironment = childEnv({
      NO_COLOR: '1',
      NODE_EXTRA_CA_CERTS: ca,
      SNIPPETS_INPUT_TOKEN: undefined,
      SNIPPETS_INPUT_TOKEN_ACCOUNTS: undefined,
      ...env,
    });
    return run(process.execPath, ['--import', 'tsx', READ_INPUT, location, 'accounts'], { cwd: RUNNER_DIR, env: childEnvironment }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout: stdout.trim(), stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );
  }

  it('is read with the bearer token, over TLS verified against the CA', async () => {
    const result = await readInChild(`${base}/data.csv`, { SNIPPETS_INPUT_TOKEN: TOKEN });
    expect(result).toMatchObject({ code: 0, stdout: sha256(bytes) });
  });

  it('without a token, or with one the server refuses, fails naming 401 and never the token', async () => {
    const none = await readInChild(`${base}/data.csv`, {});
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe(
      `input accounts: ${base}/data.csv answered 401 Unauthorized: no token was sent; set SNIPPETS_INPUT_TOKEN_ACCOUNTS (or SNIPPETS_INPUT_TOKEN) to a token that can read it`,
    );
    const wrong = await readInChild(`${base}/data.csv`, { SNIPPETS_INPUT_TOKEN: 'tok-revoked-0451' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('answered 401 Unauthorized: the token is not accepted or lacks read access');
    expect(wrong.stderr).not.toContain('tok-revoked-0451');
  });

  it('fails on the certificate when the CA is not trusted: TLS verification stays on', async () => {
    const result = await readInChild(`${base}/data.csv`, { SNIPPETS_INPUT_TOKEN: TOKEN, NODE_EXTRA_CA_CERTS: undefined });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`input accounts: ${base}/data.csv: the server's TLS certificate could not be verified`);
    expect(result.stderr).toContain('NODE_EXTRA_CA_CERTS');
  });

  it('follows redirects, keeping the token on its origin and dropping it for another', async () => {
    seen.length = 0;
    const same = await readInChild(`${base}/moved`, { SNIPPETS_INPUT_TOKEN_ACCOUNTS: TOKEN });
    expect(same).toMatchObject({ code: 0, stdout: sha256(bytes) });
    const elsewhere = await readInChild(`${base}/elsewhere`, { SNIPPETS_INPUT_TOKEN_ACCOUNTS: TOKEN });
    expect(elsewhere).toMatchObject({ code: 0, stdout: sha256(bytes) });
    expect(seen).toEqual([
      { server: 'origin', path: '/moved', authorization: `Bearer ${TOKEN}` },
      { server: 'origin', path: '/data.csv', authorization: `Bearer ${TOKEN}` },
      { server: 'origin', path: '/elsewhere', authorization: `Bearer ${TOKEN}` },
      { server: 'other', path: '/data.csv?sig=abc', authorization: undefined },
    ]);
    seen.length = 0;
    const loop = await readInChild(`${base}/loop`, { SNIPPETS_INPUT_TOKEN_ACCOUNTS: TOKEN });
    expect(loop.stderr.trim()).toBe(`input accounts: ${base}/loop redirects more than 5 times; give the final URL`);
    expect(seen).toHaveLength(1 + 5);
  });
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A test CA and a certificate it signed for 127.0.0.1 and localhost, made with the openssl CLI. */
async function issueCertificates(dir: string): Promise<{ ca: string }> {
  const ca = path.join(dir, 'ca.crt');
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', ca, '-days', '1', '-subj', '/CN=snippets test CA');
  await openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', ca, '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext');
  return { ca };
}
