/** Key pairs: create (RSA or ED25519), import, describe, delete, with AWS's fingerprints and errors. */
import { Ec2Error, invalidParameterValue } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { ComputeRepository, KeyPairRow } from '../../db/repositories/compute.js';
import { generateKey, importPublicKey } from './crypto.js';

function checkName(name: string): void {
  if (!name || name.length > 255 || !/^[\x20-\x7e]+$/.test(name)) {
    throw invalidParameterValue('KeyName', name, 'Key names must be 1-255 ASCII characters.');
  }
}

export class KeyPairService {
  constructor(private readonly repo: ComputeRepository) {}

  list(accountId: string): Promise<KeyPairRow[]> {
    return this.repo.keyPairs(accountId);
  }

  byName(accountId: string, name: string): Promise<KeyPairRow | undefined> {
    return this.repo.keyPairByName(accountId, name);
  }

  async checkNewName(accountId: string, name: string): Promise<void> {
    checkName(name);
    if (await this.repo.keyPairByName(accountId, name)) {
      throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${name}' already exists.`);
    }
  }

  async create(accountId: string, name: string, type: string | undefined, format: string | undefined): Promise<KeyPairRow & { material: string }> {
    const keyType = (type ?? 'rsa') as 'rsa' | 'ed25519';
    if (keyType !== 'rsa' && keyType !== 'ed25519') throw invalidParameterValue('KeyType', type, 'Use rsa or ed25519.');
    if (format && format !== 'pem') {
      throw invalidParameterValue('KeyFormat', format, 'Only the pem format is supported by this cloud.');
    }
    const key = generateKey(keyType, name.replace(/\s/g, '_'));
    const row = { id: newId('keyPair'), account_id: accountId, name, key_type: keyType, fingerprint: key.fingerprint, public_key: key.publicKeyOpenSsh };
    await this.insert(row);
    return { ...row, created_at: new Date(), material: key.privateKeyPem };
  }

  async import(accountId: string, name: string, material: Buffer): Promise<KeyPairRow> {
    let key;
    try {
      key = importPublicKey(material.toString('utf8'));
    } catch (e) {
      throw new Ec2Error('InvalidKey.Format', (e as Error).message);
    }
    const row = { id: newId('keyPair'), account_id: accountId, name, key_type: key.type, fingerprint: key.fingerprint, public_key: key.publicKeyOpenSsh };
    await this.insert(row);
    return { ...row, created_at: new Date() };
  }

  private async insert(row: Omit<KeyPairRow, 'created_at'>): Promise<void> {
    checkName(row.name);
    if (!(await this.repo.insertKeyPair(row))) throw new Ec2Error('InvalidKeyPair.Duplicate', `The keypair '${row.name}' already exists.`);
  }

  delete(accountId: string, id: string): Promise<void> {
    return this.repo.deleteKeyPair(accountId, id);
  }
}
