import { defineHandler } from '../../server/registry.js';
import { column, sql, validateRequest, type Resource, type Tag } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { Ec2Error, missingParameter } from '../../errors/index.js';
import type { KeyPairRow } from '../../db/repositories/compute.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';

type Row = KeyPairRow & { tags: Tag[] };

/** DescribeKeyPairs over the key_pairs table: selected and ordered by name (KeyName); tags are on the key pair id. */
export const keyPairResource: Resource<Row> = {
  from: 'key_pairs',
  id: 'name',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: 'key-pair', resourceId: 'id' },
  filters: {
    'key-name': column('name'),
    'key-pair-id': column('id'),
    fingerprint: column('fingerprint'),
    'key-type': column('key_type'),
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

export const describeKeyPairs = defineHandler('DescribeKeyPairs', {
  validate(input) {
    for (const id of input.KeyPairIds ?? []) parseId('keyPair', id);
    validateRequest(keyPairResource, { filters: input.Filters });
  },
  async handle(input, ctx) {
    const engine = ctx.services.describe;
    let where;
    if (input.KeyPairIds?.length) {
      const missing = await engine.missing(keyPairResource, input.KeyPairIds, ctx, { column: 'id' });
      if (missing.length) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${missing[0]}' does not exist`);
      where = sql`r.id = ANY(${input.KeyPairIds}::text[])`;
    }
    const page = await engine.page(keyPairResource, { ids: input.KeyNames, filters: input.Filters }, ctx, { where });
    return {
      KeyPairs: streamed(page.rows, (rows) => rows.map((k) => ({
        KeyPairId: k.id,
        KeyName: k.name,
        KeyFingerprint: k.fingerprint,
        KeyType: k.key_type,
        CreateTime: k.created_at,
        Tags: toTagList(k.tags),
        PublicKey: input.IncludePublicKey ? k.public_key : undefined,
      }))),
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
