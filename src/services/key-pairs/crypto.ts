/**
 * Key material for EC2 key pairs: generation (RSA 2048, ED25519), OpenSSH encodings, and AWS's fingerprints:
 *  - created RSA:   SHA-1 of the private key (PKCS#8 DER), colon-separated hex
 *  - imported RSA:  MD5 of the public key (SubjectPublicKeyInfo DER), colon-separated hex
 *  - ED25519:       SHA-256 of the OpenSSH public key blob, base64 (as ssh-keygen -l shows, with padding)
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([u32(buf.length), buf]);
};
/** SSH mpint: big-endian, with a leading zero byte when the high bit is set. */
const mpint = (b: Buffer) => {
  let x = b;
  while (x.length > 1 && x[0] === 0 && !(x[1]! & 0x80)) x = x.subarray(1);
  if (x[0]! & 0x80) x = Buffer.concat([Buffer.from([0]), x]);
  return sshString(x);
};
const colonHex = (b: Buffer) => b.toString('hex').match(/../g)!.join(':');

function readSshString(buf: Buffer, off: number): [Buffer, number] {
  const len = buf.readUInt32BE(off);
  return [buf.subarray(off + 4, off + 4 + len), off + 4 + len];
}

export interface GeneratedKey {
  privateKeyPem: string;
  publicKeyOpenSsh: string;
  fingerprint: string;
}

function rsaPublicBlob(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' }) as { n: string; e: string };
  return Buffer.concat([sshString('ssh-rsa'), mpint(Buffer.from(jwk.e, 'base64url')), mpint(Buffer.from(jwk.n, 'base64url'))]);
}

function ed25519PublicBlob(pub: KeyObject): Buffer {
  const jwk = pub.export({ format: 'jwk' }) as { x: string };
  return Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(jwk.x, 'base64url'))]);
}

const ed25519Fingerprint = (blob: Buffer) => createHash('sha256').update(blob).digest('base64');

export function generateKey(type: 'rsa' | 'ed25519', comment: string): GeneratedKey {
  if (type === 'rsa') {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    return {
      privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString().trim(),
      publicKeyOpenSsh: `ssh-rsa ${rsaPublicBlob(publicKey).toString('base64')} ${comment}`,
      fingerprint: colonHex(createHash('sha1').update(pkcs8).digest()),
    };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pubBlob = ed25519PublicBlob(publicKey);
  const seed = Buffer.from((privateKey.export({ format: 'jwk' }) as { d: string }).d, 'base64url');
  const pub = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  return {
    privateKeyPem: openSshPrivateKey(pubBlob, Buffer.concat([sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)])),
    publicKeyOpenSsh: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
    fingerprint: ed25519Fingerprint(pubBlob),
  };
}

/** The unencrypted "openssh-key-v1" private key format (what AWS hands out for ED25519 keys). */
function openSshPrivateKey(pubBlob: Buffer, privateFields: Buffer): string {
  const check = randomBytes(4);
  let body = Buffer.concat([check, check, privateFields]);
  const pad: number[] = [];
  for (let i = 1; (body.length + pad.length) % 8 !== 0; i++) pad.push(i);
  body = Buffer.concat([body, Buffer.from(pad)]);
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(Buffer.alloc(0)),
    u32(1),
    sshString(pubBlob),
    sshString(body),
  ]);
  const b64 = blob.toString('base64').match(/.{1,70}/g)!.join('\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----`;
}

export interface ImportedKey {
  type: 'rsa' | 'ed25519';
  publicKeyOpenSsh: string;
  fingerprint: string;
}

/**
 * Parses an OpenSSH public key line ("ssh-rsa AAAA... comment"); throws a plain Error on anything else. The
 * key kept (it reaches authorized_keys files and NoCloud seeds) is rewritten from what was parsed: the type,
 * the blob in canonical base64, and the comment with control characters dropped.
 */
export function importPublicKey(material: string): ImportedKey {
  const first = material.trim().split(/\r?\n/)[0] ?? '';
  const [kind, b64, ...rest] = first.split(/\s+/);
  if (!kind || !b64) throw new Error('Key is not in valid OpenSSH public key format');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('Key is not in valid OpenSSH public key format');
  const blob = Buffer.from(b64, 'base64');
  // eslint-disable-next-line no-control-regex
  const comment = rest.join(' ').replace(/[\x00-\x1f\x7f]/g, '').slice(0, 1024);
  const line = `${kind} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`;
  let [name, off] = readSshString(blob, 0);
  if (name.toString() !== kind) throw new Error('Key is not in valid OpenSSH public key format');
  if (kind === 'ssh-rsa') {
    let e: Buffer, n: Buffer;
    [e, off] = readSshString(blob, off);
    [n, off] = readSshString(blob, off);
    const key = createPublicKey({ key: { kty: 'RSA', e: e.toString('base64url'), n: n.toString('base64url') }, format: 'jwk' });
    const spki = key.export({ type: 'spki', format: 'der' });
    return { type: 'rsa', publicKeyOpenSsh: line, fingerprint: colonHex(createHash('md5').update(spki).digest()) };
  }
  if (kind === 'ssh-ed25519') {
    const [pub] = readSshString(blob, off);
    if (pub.length !== 32) throw new Error('Key is not in valid OpenSSH public key format');
    return { type: 'ed25519', publicKeyOpenSsh: line, fingerprint: ed25519Fingerprint(blob) };
  }
  throw new Error(`Key type ${kind} is not supported`);
}
