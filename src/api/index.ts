/** Every implemented action. A new action is a handler file in its family and one entry here. */
import { Registry } from '../server/registry.js';
import { describeRegions, describeAvailabilityZones } from './regions/index.js';
import { describeAccountAttributes } from './account/index.js';
import { describeInstanceTypes } from './instance-types/index.js';
import { createTags, deleteTags, describeTags } from './tags/index.js';
import { describeVpcs } from './vpcs/index.js';
import { describeSubnets } from './subnets/index.js';
import { describeSecurityGroups } from './security-groups/index.js';

export function buildRegistry(): Registry {
  return new Registry().add(
    describeRegions,
    describeAvailabilityZones,
    describeAccountAttributes,
    describeInstanceTypes,
    createTags,
    deleteTags,
    describeTags,
    describeVpcs,
    describeSubnets,
    describeSecurityGroups,
  );
}
