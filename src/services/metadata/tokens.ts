/**
 * IMDSv2 session tokens: `PUT /latest/api/token` with a TTL of 1..21600 s gives one; it is valid for that
 * instance only and until it expires. Stateless: the token carries the instance id and expiry under an HMAC of
 * the installation's key (`<dataDir>/metadata/token-key`, made once, mode 0600), so a server restart leaves the
 * guests' tokens valid, as AWS's control plane restarting is invisible to instances.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MIN_TOKEN_TTL = 1;
export const MAX_TOKEN_TTL = 21600;

/** The TTL header's value as a number of seconds, or undefined when it is absent, not an integer, or out of range. */
export function parseTokenTtl(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || !/^\d{1,6}$/.test(header.trim())) return undefined;
  const n = Number(header.trim());
  return n >= MIN_TOKEN_TTL && n <= MAX_TOKEN_TTL ? n : undefined;
}

export class TokenIssuer {
  private readonly key: Buffer;
  constructor(key: Buffer = randomBytes(32), private readonly now: () => number = Date.now) {
    this.key = key;
  }

  /** An issuer with the installation's key in `dir`, made (32 random bytes) the first time. */
  static fromDir(dir: string): TokenIssuer {
    const file = join(dir, 'token-key');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const key = readFileSync(file);
    if (key.length < 32) throw new Error(`${file} is shorter than 32 bytes: remove it to make a new one (outstanding tokens then end)`);
    return new TokenIssuer(key);
  }

  issue(instanceId: string, ttlSeconds: number): string {
    const expires = Math.floor(this.now() / 1000) + ttlSeconds;
    const body = Buffer.from(`${instanceId}.${expires}.${randomBytes(8).toString('hex')}`).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** True when the token was issued to this instance and has not expired. */
  valid(token: string | string[] | undefined, instanceId: string): boolean {
    if (typeof token !== 'string' || token.length > 512) return false;
    const [body, mac, ...rest] = token.split('.');
    if (!body || !mac || rest.length) return false;
    const want = Buffer.from(this.mac(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return false;
    const [id, expires] = Buffer.from(body, 'base64url').toString().split('.');
    return id === instanceId && Number(expires) > this.now() / 1000;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
