/**
 * Tags for every resource type: CreateTags/DeleteTags check that each resource exists in the caller's account
 * (answering that resource's own NotFound code), DescribeTags lists them through the describe engine.
 */
import { Ec2Error, invalidParameterValue, notFound } from '../../errors/index.js';
import { ID_KINDS, kindOfId, notFoundCode, type IdKind } from '../../ids/index.js';
import type { TagRepository, TagRow } from '../../db/repositories/tags.js';

/** DescribeTags' resource-type names. */
export const RESOURCE_TYPES: Partial<Record<IdKind, string>> = {
  instance: 'instance',
  image: 'image',
  vpc: 'vpc',
  subnet: 'subnet',
  securityGroup: 'security-group',
  keyPair: 'key-pair',
  volume: 'volume',
  snapshot: 'snapshot',
  networkInterface: 'network-interface',
  internetGateway: 'internet-gateway',
  routeTable: 'route-table',
  networkAcl: 'network-acl',
  dhcpOptions: 'dhcp-options',
  address: 'elastic-ip',
  natGateway: 'natgateway',
  replaceRootVolumeTask: 'replace-root-volume-task',
  reservation: 'reservation',
};

/** Answers which of the given ids exist in the account. Each resource family registers one. */
export type ExistenceCheck = (accountId: string, ids: string[]) => Promise<Set<string>>;

export class TagService {
  private readonly checks = new Map<IdKind, ExistenceCheck>();

  constructor(private readonly repo: TagRepository) {}

  register(kind: IdKind, check: ExistenceCheck): void {
    this.checks.set(kind, check);
  }

  /** Validates a CreateTags/DeleteTags request: known id kinds, existing resources of the caller's account. */
  async checkResources(accountId: string, resourceIds: string[]): Promise<{ id: string; type: string }[]> {
    const byKind = new Map<IdKind, string[]>();
    for (const id of resourceIds) {
      const kind = kindOfId(id);
      if (!kind || !RESOURCE_TYPES[kind] || !this.checks.has(kind)) {
        throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
      }
      const rest = id.slice(ID_KINDS[kind].prefix.length + 1);
      if (!/^([0-9a-f]{17}|[0-9a-f]{8})$/.test(rest)) throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
      byKind.set(kind, [...(byKind.get(kind) ?? []), id]);
    }
    for (const [kind, ids] of byKind) {
      const found = await this.checks.get(kind)!(accountId, ids);
      const missing = ids.filter((i) => !found.has(i));
      if (missing.length) throw notFound(notFoundCode(kind), nounOf(kind), missing);
    }
    return resourceIds.map((id) => ({ id, type: RESOURCE_TYPES[kindOfId(id)!]! }));
  }

  async create(accountId: string, resources: { id: string; type: string }[], tags: { key: string; value: string }[]): Promise<void> {
    validateTags(tags);
    // AWS's limit is 50 tags per resource, counting the ones it already has (a key that exists is replaced).
    const existing = await this.repo.byResource(accountId, resources.map((r) => r.id));
    for (const r of resources) {
      const keys = new Set((existing.get(r.id) ?? []).map((t) => t.key));
      for (const t of tags) keys.add(t.key);
      if (keys.size > MAX_TAGS) throw new Ec2Error('TagLimitExceeded', `The maximum number of Tags for a resource has been reached.`);
    }
    await this.repo.put(
      accountId,
      resources.flatMap((r) => tags.map((t) => ({ resourceId: r.id, resourceType: r.type, key: t.key, value: t.value }))),
    );
  }

  delete(accountId: string, resourceIds: string[], tags?: { key: string; value?: string }[]): Promise<void> {
    return this.repo.remove(accountId, resourceIds, tags);
  }

  /** Forgets the tags of resources that are gone (purged instances, deleted key pairs ...). */
  async forget(resourceIds: string[]): Promise<void> {
    if (resourceIds.length) await this.repo.removeAllFor(resourceIds);
  }

  all(accountId: string, narrow?: { resourceIds?: string[]; keys?: string[]; types?: string[] }): Promise<TagRow[]> {
    return this.repo.all(accountId, narrow);
  }

  byResource(accountId: string, ids?: string[]): Promise<Map<string, { key: string; value: string }[]>> {
    return this.repo.byResource(accountId, ids);
  }
}

function nounOf(kind: IdKind): string {
  const n: Partial<Record<IdKind, string>> = {
    instance: 'instance ID',
    image: 'image id',
    vpc: 'vpc ID',
    subnet: 'subnet ID',
    securityGroup: 'security group ID',
    keyPair: 'key pair',
    volume: 'volume',
    snapshot: 'snapshot',
  };
  return n[kind] ?? `${kind} ID`;
}

const MAX_TAGS = 50;

/** AWS's limits: keys 1-128 characters, values up to 256, no 'aws:' prefix, at most 50 tags per resource. */
export function validateTags(tags: { key: string; value: string }[]): void {
  for (const t of tags) {
    if (t.key.length === 0 || t.key.length > 128) throw invalidParameterValue('Tag.Key', t.key, 'Tag keys must be between 1 and 128 characters.');
    if (t.value.length > 256) throw invalidParameterValue('Tag.Value', t.value, 'Tag values must be at most 256 characters.');
    if (t.key.toLowerCase().startsWith('aws:')) {
      throw invalidParameterValue('Tag.Key', t.key, "Tag keys starting with 'aws:' are reserved for internal use");
    }
  }
  if (tags.length > MAX_TAGS) throw new Ec2Error('TagLimitExceeded', 'The maximum number of Tags for a resource has been reached.');
}
