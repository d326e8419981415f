import { defineHandler } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec, type Tag } from '../../describe/index.js';
import { Ec2Error, missingParameter } from '../../errors/index.js';
import type { KeyPairRow } from '../../db/repositories/compute.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';

type Row = KeyPairRow & { tags: Tag[] };

const keyPairSpec: DescribeSpec<Row> = {
  id: (k) => k.name,
  sortKey: (k) => k.name,
  tags: (k) => k.tags,
  filters: {
    'key-name': (k) => k.name,
    'key-pair-id': (k) => k.id,
    fingerprint: (k) => k.fingerprint,
    'key-type': (k) => k.key_type,
  },
  notFound: (ids) => new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${ids[0]}' does not exist`),
};

export const createKeyPair = defineHandler('CreateKeyPair', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'key-pair'));
    await ctx.services.keyPairs.checkNewName(ctx.accountId, input.KeyName);
    if (input.KeyType && !['rsa', 'ed25519'].includes(input.KeyType)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${input.KeyType}) for parameter KeyType is invalid.`);
    }
  },
  async handle(input, ctx) {
    const k = await ctx.services.keyPairs.create(ctx.accountId, input.KeyName, input.KeyType, input.KeyFormat);
    const tags = tagsFromSpecs(input.TagSpecifications, 'key-pair');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: k.id, type: 'key-pair' }], tags);
    return { KeyName: k.name, KeyFingerprint: k.fingerprint, KeyMaterial: k.material, KeyPairId: k.id, Tags: toTagList(tags) };
  },
});

export const importKeyPair = defineHandler('ImportKeyPair', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'key-pair'));
    await ctx.services.keyPairs.checkNewName(ctx.accountId, input.KeyName);
  },
  async handle(input, ctx) {
    const k = await ctx.services.keyPairs.import(ctx.accountId, input.KeyName, input.PublicKeyMaterial);
    const tags = tagsFromSpecs(input.TagSpecifications, 'key-pair');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: k.id, type: 'key-pair' }], tags);
    return { KeyName: k.name, KeyFingerprint: k.fingerprint, KeyPairId: k.id, Tags: toTagList(tags) };
  },
});

async function rows(ctx: Parameters<typeof createKeyPair.handle>[1]): Promise<Row[]> {
  const [keys, tags] = await Promise.all([ctx.services.keyPairs.list(ctx.accountId), ctx.services.tags.byResource(ctx.accountId)]);
  return keys.map((k) => ({ ...k, tags: tags.get(k.id) ?? [] }));
}

export const describeKeyPairs = defineHandler('DescribeKeyPairs', {
  validate(input) {
    for (const id of input.KeyPairIds ?? []) parseId('keyPair', id);
    validateDescribe(keyPairSpec, { filters: input.Filters });
  },
  async handle(input, ctx) {
    let all = await rows(ctx);
    if (input.KeyPairIds?.length) {
      const missing = input.KeyPairIds.filter((id) => !all.some((k) => k.id === id));
      if (missing.length) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${missing[0]}' does not exist`);
      all = all.filter((k) => input.KeyPairIds!.includes(k.id));
    }
    const page = describe(keyPairSpec, all, { ids: input.KeyNames, filters: input.Filters });
    return {
      KeyPairs: page.items.map((k) => ({
        KeyPairId: k.id,
        KeyName: k.name,
        KeyFingerprint: k.fingerprint,
        KeyType: k.key_type,
        CreateTime: k.created_at,
        Tags: toTagList(k.tags),
        PublicKey: input.IncludePublicKey ? k.public_key : undefined,
      })),
    };
  },
});

export const deleteKeyPair = defineHandler('DeleteKeyPair', {
  validate(input) {
    if (!input.KeyName && !input.KeyPairId) throw missingParameter('KeyName');
    if (input.KeyPairId) parseId('keyPair', input.KeyPairId);
  },
  async handle(input, ctx) {
    // As on AWS, deleting a key pair that does not exist succeeds.
    const all = await ctx.services.keyPairs.list(ctx.accountId);
    const k = all.find((x) => (input.KeyPairId ? x.id === input.KeyPairId : x.name === input.KeyName));
    if (k) {
      await ctx.services.keyPairs.delete(ctx.accountId, k.id);
      await ctx.services.tags.forget([k.id]);
    }
    return { Return: true, KeyPairId: k?.id };
  },
});
