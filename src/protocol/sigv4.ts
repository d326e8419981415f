/**
 * AWS Signature Version 4 verification for header-signed and presigned (query) requests.
 * The canonical request is rebuilt from what the client sent (its own SignedHeaders, the raw Host header with
 * its port, its x-amz-date) and signed with the account's secret; the signatures are compared in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import {
  authFailure,
  incompleteSignature,
  missingAuthenticationToken,
  requestExpired,
  signatureDoesNotMatch,
} from '../errors/index.js';

export interface SignedRequest {
  method: string;
  path: string;
  /** Raw query string (without '?') */
  query: string;
  /** Lower-cased header names */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface VerifyOptions {
  now?: Date;
  /** Allowed clock skew, AWS's is 5 minutes. */
  maxSkewMs?: number;
  lookup: (accessKeyId: string) => Promise<Credentials | undefined>;
}

export interface VerifiedIdentity {
  accessKeyId: string;
  region: string;
  service: string;
}

interface AuthParts {
  accessKeyId: string;
  date: string; // yyyymmdd
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string; // yyyymmddThhmmssZ
  presigned: boolean;
  expiresSec?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';

function header(h: SignedRequest['headers'], name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function parseCredential(cred: string): Pick<AuthParts, 'accessKeyId' | 'date' | 'region' | 'service'> {
  const parts = cred.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') {
    throw incompleteSignature(`Credential should be scoped to a valid region, not '${cred}'.`);
  }
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, date, region, service };
}

function parseAuth(req: SignedRequest, query: URLSearchParams): AuthParts {
  const auth = header(req.headers, 'authorization');
  if (auth) {
    if (!auth.startsWith(ALGORITHM + ' ')) throw incompleteSignature(`Unsupported authorization type: ${auth.split(' ')[0]}`);
    const fields: Record<string, string> = {};
    for (const part of auth.slice(ALGORITHM.length + 1).split(',')) {
      const i = part.indexOf('=');
      if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    if (!fields.Credential || !fields.SignedHeaders || !fields.Signature) {
      throw incompleteSignature(
        "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
      );
    }
    const amzDate = header(req.headers, 'x-amz-date') ?? '';
    if (!amzDate) throw incompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    return {
      ...parseCredential(fields.Credential),
      signedHeaders: fields.SignedHeaders.split(';'),
      signature: fields.Signature,
      amzDate,
      presigned: false,
    };
  }
  if (query.get('X-Amz-Algorithm')) {
    if (query.get('X-Amz-Algorithm') !== ALGORITHM) throw incompleteSignature('Unsupported X-Amz-Algorithm.');
    const cred = query.get('X-Amz-Credential');
    const signature = query.get('X-Amz-Signature');
    const amzDate = query.get('X-Amz-Date');
    const signed = query.get('X-Amz-SignedHeaders');
    if (!cred || !signature || !amzDate || !signed) throw incompleteSignature('Presigned request is missing a SigV4 parameter.');
    const expires = query.get('X-Amz-Expires');
    return {
      ...parseCredential(cred),
      signedHeaders: signed.split(';'),
      signature,
      amzDate,
      presigned: true,
      expiresSec: expires ? Number(expires) : undefined,
    };
  }
  throw missingAuthenticationToken();
}

/** RFC 3986 encoding as SigV4 wants it. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

function canonicalQuery(query: URLSearchParams, presigned: boolean): string {
  const pairs: [string, string][] = [];
  for (const [k, v] of query) {
    if (presigned && k === 'X-Amz-Signature') continue;
    pairs.push([uriEncode(k), uriEncode(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function canonicalPath(path: string): string {
  return path
    .split('/')
    .map((seg) => uriEncode(decodeURIComponent(seg)))
    .join('/') || '/';
}

const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();

function parseAmzDate(amzDate: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export function computeSignature(
  req: SignedRequest,
  parts: Pick<AuthParts, 'signedHeaders' | 'amzDate' | 'date' | 'region' | 'service' | 'presigned'>,
  secret: string,
  payloadHash: string,
): string {
  const query = new URLSearchParams(req.query);
  const canonicalHeaders = parts.signedHeaders
    .map((h) => `${h}:${(header(req.headers, h) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalPath(req.path),
    canonicalQuery(query, parts.presigned),
    canonicalHeaders,
    parts.signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
  const stringToSign = [ALGORITHM, parts.amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kDate = hmac('AWS4' + secret, parts.date);
  const kRegion = hmac(kDate, parts.region);
  const kService = hmac(kRegion, parts.service);
  const kSigning = hmac(kService, 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function verifySigV4(req: SignedRequest, opts: VerifyOptions): Promise<VerifiedIdentity> {
  const query = new URLSearchParams(req.query);
  const parts = parseAuth(req, query);
  if (!parts.signedHeaders.includes('host')) throw incompleteSignature('The host header must be signed.');
  const signedAt = parseAmzDate(parts.amzDate);
  if (!signedAt) throw incompleteSignature(`Invalid X-Amz-Date '${parts.amzDate}'.`);
  const now = (opts.now ?? new Date()).getTime();
  const skew = opts.maxSkewMs ?? 5 * 60_000;
  if (parts.presigned) {
    const expires = parts.expiresSec ?? 900;
    if (now < signedAt.getTime() - skew || now > signedAt.getTime() + expires * 1000) throw requestExpired();
  } else if (Math.abs(now - signedAt.getTime()) > skew) {
    throw requestExpired();
  }
  const creds = await opts.lookup(parts.accessKeyId);
  if (!creds) throw authFailure();

  const declared = header(req.headers, 'x-amz-content-sha256');
  const candidates = declared
    ? [declared]
    : parts.presigned
      ? ['UNSIGNED-PAYLOAD', sha256hex(req.body)]
      : [sha256hex(req.body)];
  if (declared && declared !== 'UNSIGNED-PAYLOAD' && declared !== sha256hex(req.body)) throw signatureDoesNotMatch();
  for (const payloadHash of candidates) {
    if (sameHex(computeSignature(req, parts, creds.secretAccessKey, payloadHash), parts.signature)) {
      return { accessKeyId: parts.accessKeyId, region: parts.region, service: parts.service };
    }
  }
  throw signatureDoesNotMatch();
}
