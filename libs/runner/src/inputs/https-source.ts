import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { describeCause, InputError } from '../errors.ts';

/** An input's `https://` URL and the bearer token for its origin, if the environment has one. */
export interface HttpsLocation {
  input: string;
  url: URL;
  display: string;
  token: string | undefined;
  /** The variable the token is read from first: SNIPPETS_INPUT_TOKEN_<INPUT>. */
  tokenVariable: string;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** How long the server may stay silent, before its headers or between chunks of the body. */
const IDLE_TIMEOUT_MS = 30_000;

/** SNIPPETS_INPUT_TOKEN_<NAME>: the input's name in upper case, anything but letters and digits as `_`. */
export function tokenVariable(input: string): string {
  return `SNIPPETS_INPUT_TOKEN_${input.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** Origin and path only: a signed URL carries its secret in the query string. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

export function httpsLocation(location: string, input: string, env: Record<string, string | undefined>): HttpsLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch (error) {
    throw new InputError(`input ${input}: the location is not a valid URL; use --input ${input}=https://host/path`, { subject: input, cause: error });
  }
  const display = displayUrl(url);
  const variable = tokenVariable(input);
  if (url.protocol === 'http:') {
    throw new InputError(`input ${input}: ${display} is plain http, which the runner refuses; use https://`, { subject: input });
  }
  if (url.username || url.password) {
    throw new InputError(`input ${input}: ${display} has credentials in the URL; remove them and set ${variable} (or SNIPPETS_INPUT_TOKEN) to a bearer token`, {
      subject: input,
    });
  }
  return { input, url, display, token: env[variable] || env.SNIPPETS_INPUT_TOKEN || undefined, tokenVariable: variable };
}

/**
 * GETs the URL, following up to five redirects to https URLs. The token goes only to the
 * origin the location names: a redirect elsewhere (a CDN, a signed S3 URL) gets none.
 */
export async function openHttps(target: HttpsLocation): Promise<Readable> {
  let url = target.url;
  for (let redirects = 0; ; redirects++) {
    const token = url.origin === target.url.origin ? target.token : undefined;
    const response = await get(url, token, target);
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    response.resume();
    const location = response.headers.location;
    if (!REDIRECTS.has(status) || !location) throw statusError(response, target, url, token !== undefined);
    if (redirects === MAX_REDIRECTS) {
      throw new InputError(`input ${target.input}: ${target.display} redirects more than ${MAX_REDIRECTS} times; give the final URL`, { subject: target.input });
    }
    url = redirectTarget(location, url, target);
    if (url.protocol !== 'https:') {
      throw new InputError(`input ${target.input}: ${target.display} redirects to ${displayUrl(url)}, which is not https; give an https URL that serves the file`, {
        subject: target.input,
      });
    }
  }
}

function redirectTarget(location: string, from: URL, target: HttpsLocation): URL {
  try {
    return new URL(location, from);
  } catch (error) {
    // The Location itself is not shown: it may be a signed URL.
    throw new InputError(`input ${target.input}: ${target.display} redirects to an invalid URL; give the final URL`, { subject: target.input, cause: error });
  }
}

function get(url: URL, token: string | undefined, target: HttpsLocation): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    // No shared agent: the socket closes with the response, so nothing keeps the process alive.
    const request = https.get(url, { agent: false, timeout: IDLE_TIMEOUT_MS, headers: token ? { authorization: `Bearer ${token}` } : {} }, resolve);
    request.on('timeout', () => request.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    request.on('error', (error) => reject(networkError(error, target, url)));
  });
}

function statusError(response: IncomingMessage, target: HttpsLocation, url: URL, tokenSent: boolean): InputError {
  const status = response.statusCode ?? 0;
  const redirected = url === target.url ? '' : ` (redirected to ${displayUrl(url)})`;
  const answered = `${target.display}${redirected} answered ${status} ${response.statusMessage ?? ''}`.trimEnd();
  return new InputError(`input ${target.input}: ${answered}: ${statusFix(status, target, tokenSent)}`, { subject: target.input });
}

/** Says whether a token went out, never the token. */
function statusFix(status: number, target: HttpsLocation, tokenSent: boolean): string {
  const setToken = `set ${target.tokenVariable} (or SNIPPETS_INPUT_TOKEN) to a token that can read it`;
  if (status === 401 || status === 403) {
    if (tokenSent) return `the token is not accepted or lacks read access; ${setToken}`;
    if (target.token) return `the token is not sent to another origin; give that URL with --input ${target.input}=URL`;
    return `no token was sent; ${setToken}`;
  }
  if (status >= 500) return 'the server failed; try again, or ask its owners';
  return `check the URL given with --input ${target.input}=URL`;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function networkError(error: Error, target: HttpsLocation, url: URL): InputError {
  return new InputError(`input ${target.input}: ${target.display}${networkReason(error, url)}`, { subject: target.input, cause: error });
}

function networkReason(error: Error, url: URL): string {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `: the server's TLS certificate is not for ${url.hostname} (${code}); use the host name the certificate names`;
  if (code.includes('CERT') || code.includes('UNABLE_TO_VERIFY')) {
    return `: the server's TLS certificate could not be verified (${code}); if a private CA signed it, give the runner that CA with NODE_EXTRA_CA_CERTS=/path/ca.pem`;
  }
  if (UNREACHABLE.has(code)) return `: cannot reach ${url.host} (${code}); check the URL and the network`;
  return ` could not be fetched (${describeCause(error)}); check the URL`;
}
