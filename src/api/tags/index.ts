import { defineHandler } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec } from '../../describe/index.js';
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

type Row = TagRow & { resourceTags: { key: string; value: string }[] };

/** DescribeTags lists tags; `tag:<key>` selects the tags of resources that carry that tag with a matching value. */
const tagSpec: DescribeSpec<Row> = {
  id: (t) => `${t.resource_id}\u0000${t.key}`,
  tags: (t) => t.resourceTags,
  filters: {
    key: (t) => t.key,
    value: (t) => t.value,
    'resource-id': (t) => t.resource_id,
    'resource-type': (t) => t.resource_type,
  },
  // DescribeTags has no id list; kept for the engine's contract.
  notFound: () => new Ec2Error('InvalidParameterValue', 'not found'),
  maxResults: { min: 5, max: 1000 },
};

export const describeTags = defineHandler('DescribeTags', {
  validate(input) {
    validateDescribe(tagSpec, { filters: input.Filters, maxResults: input.MaxResults, nextToken: input.NextToken });
  },
  async handle(input, ctx) {
    // Exact (wildcard-free) resource-id, key and resource-type filters narrow the query in SQL; the describe
    // engine still applies every filter, so this only saves loading rows that could not match.
    const exact = (name: string) => {
      const f = input.Filters?.filter((x) => x.Name === name);
      if (!f?.length || f.some((x) => !x.Values?.length || x.Values.some((v) => /[*?\\]/.test(v)))) return undefined;
      return f.map((x) => x.Values!).reduce((a, b) => a.filter((v) => b.includes(v)));
    };
    const hasTagFilter = input.Filters?.some((f) => f.Name?.startsWith('tag:'));
    const all = await ctx.services.tags.all(ctx.accountId, {
      resourceIds: exact('resource-id'),
      // tag:<key> needs all tags of a resource, so keys narrow only when no tag: filter is present.
      keys: hasTagFilter ? undefined : exact('key'),
      types: exact('resource-type'),
    });
    // Each row needs its resource's other tags only for tag:<key> filters.
    const byResource = new Map<string, { key: string; value: string }[]>();
    if (hasTagFilter) {
      for (const t of all) {
        const list = byResource.get(t.resource_id);
        if (list) list.push({ key: t.key, value: t.value });
        else byResource.set(t.resource_id, [{ key: t.key, value: t.value }]);
      }
    }
    const rows = all.map((t) => Object.assign(t, { resourceTags: byResource.get(t.resource_id) ?? [] }));
    const page = describe(tagSpec, rows, { filters: input.Filters, maxResults: input.MaxResults, nextToken: input.NextToken });
    return {
      Tags: page.items.map((t) => ({ ResourceId: t.resource_id, ResourceType: t.resource_type, Key: t.key, Value: t.value })),
      NextToken: page.nextToken,
    };
  },
});
