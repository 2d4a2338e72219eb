import { Readable } from 'node:stream';
import { describeCause, InputError } from '../errors.ts';

/** An input's S3 object: `s3://BUCKET/KEY`. */
export interface S3Location {
  input: string;
  bucket: string;
  key: string;
  display: string;
}

// S3's bucket naming rules; they also keep user:password@ out of the bucket, and so out of messages.
const LOCATION = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/i;

export function s3Location(location: string, input: string): S3Location {
  const match = LOCATION.exec(location);
  if (!match?.[1] || !match[2]) {
    throw new InputError(`input ${input}: an s3: location names a bucket and a key; use --input ${input}=s3://BUCKET/KEY`, { subject: input });
  }
  const [, bucket, key] = match;
  return { input, bucket, key, display: `s3://${bucket}/${key}` };
}

/**
 * GETs the object and hands back its body. Credentials come from the SDK's default chain (the
 * task role in ECS or Kubernetes), or from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in `env`.
 */
export async function openS3Object(target: S3Location, env: Record<string, string | undefined>): Promise<Readable> {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const endpoint = customEndpoint(env, target.input);
  // Imported here, not at the top: the SDK is large and most runs never read from S3.
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    region,
    ...(endpoint ? { endpoint: endpoint.href, forcePathStyle: true } : {}),
    ...credentialsIn(env),
    // Older S3-compatible servers neither send nor accept the newer CRC checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000 },
  });
  try {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: target.key }));
    if (!(Body instanceof Readable)) throw new Error('the SDK returned a body that is not a Node stream');
    // Destroying the client closes its sockets, so it waits until the body has been read.
    Body.once('close', () => client.destroy());
    return Body;
  } catch (error) {
    client.destroy();
    throw s3Error(error, target, { region, endpoint });
  }
}

/** AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL: an S3-compatible server rather than AWS. */
function customEndpoint(env: Record<string, string | undefined>, input: string): URL | undefined {
  const variable = env.AWS_ENDPOINT_URL_S3 ? 'AWS_ENDPOINT_URL_S3' : env.AWS_ENDPOINT_URL ? 'AWS_ENDPOINT_URL' : undefined;
  if (!variable) return undefined;
  try {
    return new URL(env[variable] as string);
  } catch (error) {
    throw new InputError(`input ${input}: ${variable} is not a valid URL; set it to the S3-compatible server's http(s)://host:port`, {
      subject: variable,
      cause: error,
    });
  }
}

function credentialsIn(env: Record<string, string | undefined>) {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = env;
  if (!accessKeyId || !secretAccessKey) return {};
  return { credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } };
}

const CREDENTIALS_REJECTED = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired']);
const WRONG_REGION = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/** One line with the reason and the fix; S3's own message only where the reason is unknown (it never holds credentials). */
function s3Error(error: unknown, target: S3Location, where: { region: string; endpoint: URL | undefined }): InputError {
  return new InputError(`input ${target.input}: ${s3Reason(error, target, where)}`, { subject: target.input, cause: error });
}

function s3Reason(error: unknown, target: S3Location, where: { region: string; endpoint: URL | undefined }): string {
  const name = error instanceof Error ? error.name : 'Error';
  const code = (error as NodeJS.ErrnoException).code;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const { input, display } = target;
  if (name === 'NoSuchKey') return `${display} does not exist (NoSuchKey); check the key given with --input ${input}=s3://BUCKET/KEY`;
  if (name === 'NoSuchBucket') return `${display}: bucket ${target.bucket} does not exist (NoSuchBucket); check the bucket's name`;
  if (CREDENTIALS_REJECTED.has(name)) return `${display}: S3 rejected the runner's credentials (${name}); check the task role or the AWS credentials it is given`;
  // After the rejected credentials, which S3 answers with a 403 too.
  if (name === 'AccessDenied' || status === 403) {
    return `${display}: access denied (${name}); grant the task role s3:GetObject on it (without s3:ListBucket, S3 says this of a missing key too)`;
  }
  if (name === 'CredentialsProviderError') return `${display}: no AWS credentials found; run with a task role or give the runner AWS credentials`;
  if (WRONG_REGION.has(name) || status === 301) return `${display}: the bucket is not in ${where.region} (${name}); set AWS_REGION to the bucket's region`;
  if ((code && UNREACHABLE.has(code)) || name === 'TimeoutError') {
    const server = where.endpoint ? where.endpoint.origin : `S3 in ${where.region}`;
    return `${display}: cannot reach ${server} (${code ?? name}); check the network, AWS_REGION and AWS_ENDPOINT_URL_S3`;
  }
  return `${display} could not be read (${name}: ${describeCause(error)}); check the location and the runner's access to it`;
}
