import { defineHandler } from '../../server/registry.js';
import { describe, type DescribeSpec } from '../../describe/index.js';
import { Ec2Error } from '../../errors/index.js';
import type { Zone } from '../../services/catalog/index.js';

type RegionRow = { name: string; endpoint: string; optInStatus: string };

const regionSpec: DescribeSpec<RegionRow> = {
  id: (r) => r.name,
  filters: { 'region-name': (r) => r.name, endpoint: (r) => r.endpoint, 'opt-in-status': (r) => r.optInStatus },
  notFound: (ids) => new Ec2Error('InvalidParameterValue', `Invalid region: ${ids.join(', ')}`),
};

export const describeRegions = defineHandler('DescribeRegions', {
  async handle(input, ctx) {
    // Regions not opted in are listed only with AllRegions (or when asked for by name), as on AWS.
    const regions = ctx.services.catalog.regions().filter((r) => input.AllRegions || input.RegionNames?.length || r.optInStatus !== 'not-opted-in');
    const page = describe(regionSpec, regions, { ids: input.RegionNames, filters: input.Filters });
    return { Regions: page.items.map((r) => ({ RegionName: r.name, Endpoint: r.endpoint, OptInStatus: r.optInStatus })) };
  },
});

const zoneSpec: DescribeSpec<Zone> = {
  id: (z) => z.name,
  filters: {
    'zone-name': (z) => z.name,
    'zone-id': (z) => z.zoneId,
    'region-name': (z) => z.region,
    state: () => 'available',
    'zone-type': () => 'availability-zone',
    'group-name': (z) => z.region,
    'opt-in-status': () => 'opt-in-not-required',
  },
  notFound: (ids) => new Ec2Error('InvalidParameterValue', `Invalid availability zone: [${ids.join(', ')}]`),
};

export const describeAvailabilityZones = defineHandler('DescribeAvailabilityZones', {
  async handle(input, ctx) {
    const zones = ctx.services.catalog.zones();
    let selected = zones;
    if (input.ZoneIds?.length) {
      const missing = input.ZoneIds.filter((id) => !zones.some((z) => z.zoneId === id));
      if (missing.length) throw new Ec2Error('InvalidParameterValue', `Invalid availability zone: [${missing.join(', ')}]`);
      selected = zones.filter((z) => input.ZoneIds!.includes(z.zoneId));
    }
    const page = describe(zoneSpec, selected, { ids: input.ZoneNames, filters: input.Filters });
    return {
      AvailabilityZones: page.items.map((z) => ({
        State: 'available',
        OptInStatus: 'opt-in-not-required',
        Messages: [],
        RegionName: z.region,
        ZoneName: z.name,
        ZoneId: z.zoneId,
        GroupName: z.region,
        NetworkBorderGroup: z.region,
        ZoneType: 'availability-zone',
        GroupLongName: z.region,
      })),
    };
  },
});
