import assert from 'node:assert/strict';
/** Clients for tests: the real JS SDK, and a raw signed request for cases no SDK would send. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { XMLParser } from 'fast-xml-parser';

export function sdk(endpoint: string, creds = { accessKeyId: 'test', secretAccessKey: 'test' }): EC2Client {
  return new EC2Client({ endpoint, region: 'us-east-1', credentials: creds, maxAttempts: 1 });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  xml: any;
}

const parser = new XMLParser({ ignoreAttributes: false });

/** POSTs form parameters signed with SigV4 (or unsigned, or with a wrong secret). */
export async function raw(
  endpoint: string,
  params: Record<string, string>,
  opts: { secret?: string; accessKeyId?: string; unsigned?: boolean; date?: Date; method?: 'POST' | 'GET' } = {},
): Promise<RawResponse> {
  const u = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const method = opts.method ?? 'POST';
  let headers: Record<string, string> = { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  let query: Record<string, string> | undefined;
  if (method === 'GET') {
    query = Object.fromEntries(new URLSearchParams(body));
    headers = { host: u.host };
  }
  if (!opts.unsigned) {
    const signer = new SignatureV4({
      service: 'ec2',
      region: 'us-east-1',
      credentials: { accessKeyId: opts.accessKeyId ?? 'test', secretAccessKey: opts.secret ?? 'test' },
      sha256: Sha256,
      applyChecksum: false,
    });
    const signed = await signer.sign(
      { method, protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: '/', headers, query, body: method === 'POST' ? body : undefined },
      { signingDate: opts.date },
    );
    headers = signed.headers as Record<string, string>;
  }
  const url = method === 'GET' ? `${endpoint}/?${body}` : `${endpoint}/`;
  const res = await fetch(url, { method, headers, body: method === 'POST' ? body : undefined });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text, xml: parser.parse(text) };
}

export function errorCode(r: RawResponse): string | undefined {
  return r.xml?.Response?.Errors?.Error?.Code;
}

/** Asserts that an SDK call fails with the EC2 error code `code` (the SDK's error name). */
export const fails = async (p: Promise<unknown>, code: string) => assert.rejects(p, (e: Error) => (assert.equal(e.name, code), true));
