/** Regions, availability zones and instance types: fixed facts of this cloud, no database involved. */
import { INSTANCE_TYPES, type InstanceTypeSpec } from '../../domain/instance-types.js';

export const REGIONS = [
  'af-south-1', 'ap-east-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-southeast-1',
  'ap-southeast-2', 'ca-central-1', 'eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-west-1', 'eu-west-2',
  'eu-west-3', 'me-south-1', 'sa-east-1', 'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2',
];

/** Regions an AWS account must opt in to. */
const OPT_IN_REGIONS = new Set(['af-south-1', 'ap-east-1', 'eu-south-1', 'me-south-1']);

/** AWS's short region codes, used in zone ids (use1-az1 ...). */
function regionCode(region: string): string {
  const [geo, dir, n] = region.split('-') as [string, string, string];
  const d: Record<string, string> = { east: 'e', west: 'w', north: 'n', south: 's', central: 'c', northeast: 'ne', southeast: 'se', northwest: 'nw', southwest: 'sw' };
  return `${geo}${d[dir] ?? dir[0]}${n}`;
}

export interface Zone {
  name: string;
  zoneId: string;
  region: string;
}

export class CatalogService {
  /** The region's zones: fixed for the server's life, so made once (DescribeSubnets looks one up per row). */
  private readonly zoneList: readonly Zone[];

  constructor(readonly region: string) {
    this.zoneList = ['a', 'b', 'c'].map((letter, i) => ({
      name: `${region}${letter}`,
      zoneId: `${regionCode(region)}-az${i + 1}`,
      region,
    }));
  }

  /** Every region; opt-in regions (as on AWS) are 'not-opted-in' unless this server is one. */
  regions(): { name: string; endpoint: string; optInStatus: string }[] {
    const all = REGIONS.includes(this.region) ? REGIONS : [...REGIONS, this.region].sort();
    return all.map((name) => ({
      name,
      endpoint: `ec2.${name}.amazonaws.com`,
      optInStatus: OPT_IN_REGIONS.has(name) ? (name === this.region ? 'opted-in' : 'not-opted-in') : 'opt-in-not-required',
    }));
  }

  zones(): Zone[] {
    return [...this.zoneList];
  }

  zone(name: string): Zone | undefined {
    return this.zoneList.find((z) => z.name === name);
  }

  instanceTypes(): InstanceTypeSpec[] {
    return [...INSTANCE_TYPES.values()];
  }
}
