import { defineHandler } from '../../server/registry.js';
import { column, sql, validateRequest, type Resource } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { Ec2Error, missingParameter } from '../../errors/index.js';
import type { TagRow } from '../../db/repositories/tags.js';
import { validateTags } from '../../services/tags/index.js';

export const createTags = defineHandler('CreateTags', {
  async validate(input, ctx) {
    if (!input.Resources.length) throw missingParameter('ResourceId');
    if (!input.Tags.length) throw missingParameter('Tag');
    validateTags(input.Tags.map((t) => ({ key: t.Key ?? '', value: t.Value ?? '' })));
    await ctx.services.tags.checkResources(ctx.accountId, input.Resources);
  },
  async handle(input, ctx) {
    const resources = await ctx.services.tags.checkResources(ctx.accountId, input.Resources);
    await ctx.services.tags.create(ctx.accountId, resources, input.Tags.map((t) => ({ key: t.Key ?? '', value: t.Value ?? '' })));
    return {};
  },
});

export const deleteTags = defineHandler('DeleteTags', {
  async validate(input, ctx) {
    if (!input.Resources.length) throw missingParameter('ResourceId');
    await ctx.services.tags.checkResources(ctx.accountId, input.Resources);
  },
  async handle(input, ctx) {
    await ctx.services.tags.delete(
      ctx.accountId,
      input.Resources,
      input.Tags?.map((t) => ({ key: t.Key ?? '', value: t.Value })),
    );
    return {};
  },
});

/**
 * DescribeTags over the tags table, ordered by (resource id, key). `tag:<key>` (and `tag-key`, `tag-value`)
 * select the tags of resources that carry a matching tag.
 */
export const tagResource: Resource<TagRow> = {
  from: 'tags',
  order: ['resource_id', 'key'],
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: 'r.resource_id, r.resource_type, r.key, r.value',
  tags: { resourceId: 'resource_id', attach: false },
  filters: {
    key: column('key'),
    value: column('value'),
    'resource-id': column('resource_id'),
    'resource-type': column('resource_type'),
  },
  // DescribeTags has no id list; kept for the engine's contract.
  notFound: () => new Ec2Error('InvalidParameterValue', 'not found'),
  maxResults: { min: 5, max: 1000 },
};

export const describeTags = defineHandler('DescribeTags', {
  validate(input) {
    validateRequest(tagResource, { filters: input.Filters, maxResults: input.MaxResults, nextToken: input.NextToken });
  },
  async handle(input, ctx) {
    const page = await ctx.services.describe.page(tagResource, { filters: input.Filters, maxResults: input.MaxResults, nextToken: input.NextToken }, ctx);
    return {
      Tags: streamed(page.rows, (rows) => rows.map((t) => ({ ResourceId: t.resource_id, ResourceType: t.resource_type, Key: t.key, Value: t.value }))),
      NextToken: page.nextToken,
    };
  },
});
