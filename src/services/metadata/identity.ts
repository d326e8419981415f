/**
 * The installation's identity-document key pair: an RSA key made once and kept in the data directory
 * (`<dataDir>/metadata/identity-key.pem`, mode 0600), its public half published beside it
 * (`identity-public-key.pem`) for anyone who checks an instance's identity document:
 *   openssl dgst -sha256 -verify identity-public-key.pem -signature <(base64 -d signature) document
 * `dynamic/instance-identity/signature` is the base64 RSA-SHA256 signature of the document exactly as served.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DocumentSigner } from './tree.js';

export class IdentitySigner implements DocumentSigner {
  constructor(private readonly key: KeyObject) {}

  /** Loads the installation's key from `dir`, making it (and publishing its public half) the first time. */
  static fromDir(dir: string): IdentitySigner {
    const keyFile = join(dir, 'identity-key.pem');
    const pubFile = join(dir, 'identity-public-key.pem');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!existsSync(keyFile)) {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    }
    const key = createPrivateKey(readFileSync(keyFile));
    const pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
    if (!existsSync(pubFile) || readFileSync(pubFile, 'utf8') !== pub) writeFileSync(pubFile, pub, { mode: 0o644 });
    return new IdentitySigner(key);
  }

  /** A signer that loads (or makes) the key only when a document is first signed: a server start writes nothing. */
  static lazy(dir: string): DocumentSigner {
    let signer: IdentitySigner | undefined;
    return { sign: (document) => (signer ??= IdentitySigner.fromDir(dir)).sign(document) };
  }

  sign(document: string): string {
    return sign('sha256', Buffer.from(document), this.key).toString('base64');
  }

  publicKeyPem(): string {
    return createPublicKey(this.key).export({ type: 'spki', format: 'pem' }) as string;
  }

  static verify(publicKeyPem: string, document: string, signature: string): boolean {
    return verify('sha256', Buffer.from(document), publicKeyPem, Buffer.from(signature, 'base64'));
  }
}
