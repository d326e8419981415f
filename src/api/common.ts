/** Small helpers shared by handlers: tag lists, id lists, filter inputs. */
import type * as Ec2 from '../protocol/generated/types.js';
import { parseId, type IdKind } from '../ids/index.js';
import type { DescribeRequest } from '../describe/index.js';

export function toTagList(tags: { key: string; value: string }[] | undefined): Ec2.Tag[] {
  return (tags ?? []).map((t) => ({ Key: t.key, Value: t.value }));
}

/**
 * A resource's tagSet as AWS writes it in Describe answers of instances, VPCs, subnets, security groups and
 * images: left out when the resource has no tag (so boto3 and the CLI show no `Tags` key), never `<tagSet/>`.
 */
export function tagSetOrNone(tags: { key: string; value: string }[] | undefined): Ec2.Tag[] | undefined {
  return tags?.length ? toTagList(tags) : undefined;
}

export function parseIds(kind: IdKind, ids: string[] | undefined): string[] | undefined {
  return ids?.map((id) => parseId(kind, id));
}

export function describeRequest(input: {
  Filters?: Ec2.Filter[];
  MaxResults?: number;
  NextToken?: string;
}, ids?: string[]): DescribeRequest {
  return { ids, filters: input.Filters, maxResults: input.MaxResults, nextToken: input.NextToken };
}

/** TagSpecifications of a create call, for one resource type (others are refused as AWS does). */
export function tagsFromSpecs(
  specs: Ec2.TagSpecification[] | undefined,
  resourceType: string,
): { key: string; value: string }[] {
  return (specs ?? [])
    .filter((s) => s.ResourceType === resourceType)
    .flatMap((s) => (s.Tags ?? []).map((t) => ({ key: t.Key ?? '', value: t.Value ?? '' })));
}
