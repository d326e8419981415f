import { defineHandler } from '../../server/registry.js';
import { describe, type DescribeSpec } from '../../describe/index.js';
import { Ec2Error } from '../../errors/index.js';
import type { InstanceTypeSpec } from '../../domain/instance-types.js';
import type * as Ec2 from '../../protocol/generated/types.js';

const spec: DescribeSpec<InstanceTypeSpec> = {
  id: (t) => t.name,
  filters: {
    'instance-type': (t) => t.name,
    'vcpu-info.default-vcpus': (t) => t.vcpus,
    'memory-info.size-in-mib': (t) => t.memoryMiB,
    'processor-info.supported-architecture': (t) => t.architecture,
    'current-generation': (t) => t.currentGeneration,
    'free-tier-eligible': (t) => t.freeTier,
    'burstable-performance-supported': (t) => t.burstable,
    'bare-metal': () => false,
    hypervisor: () => 'nitro',
    'supported-virtualization-type': () => 'hvm',
    'supported-root-device-type': () => 'ebs',
    'instance-storage-supported': () => false,
    'network-info.maximum-network-interfaces': (t) => t.maxEnis,
  },
  notFound: (ids) => new Ec2Error('InvalidInstanceType', `The following supplied instance types do not exist: [${ids.join(', ')}]`),
  maxResults: { min: 5, max: 100 },
};

function toInfo(t: InstanceTypeSpec): Ec2.InstanceTypeInfo {
  return {
    InstanceType: t.name,
    CurrentGeneration: t.currentGeneration,
    FreeTierEligible: t.freeTier,
    SupportedUsageClasses: ['on-demand', 'spot'],
    SupportedRootDeviceTypes: ['ebs'],
    SupportedVirtualizationTypes: ['hvm'],
    BareMetal: false,
    Hypervisor: 'nitro',
    ProcessorInfo: { SupportedArchitectures: [t.architecture], SustainedClockSpeedInGhz: 2.5 },
    VCpuInfo: {
      DefaultVCpus: t.vcpus,
      DefaultCores: Math.max(1, Math.floor(t.vcpus / 2)),
      DefaultThreadsPerCore: t.vcpus > 1 ? 2 : 1,
    },
    MemoryInfo: { SizeInMiB: t.memoryMiB },
    InstanceStorageSupported: false,
    EbsInfo: { EbsOptimizedSupport: 'default', EncryptionSupport: 'supported', NvmeSupport: 'required' },
    NetworkInfo: {
      NetworkPerformance: t.networkPerformance,
      MaximumNetworkInterfaces: t.maxEnis,
      Ipv4AddressesPerInterface: t.ipv4PerEni,
      Ipv6AddressesPerInterface: t.ipv4PerEni,
      Ipv6Supported: true,
      EnaSupport: 'required',
      EfaSupported: false,
      EncryptionInTransitSupported: false,
    },
    PlacementGroupInfo: { SupportedStrategies: ['partition', 'spread'] },
    HibernationSupported: false,
    BurstablePerformanceSupported: t.burstable,
    DedicatedHostsSupported: false,
    AutoRecoverySupported: true,
    SupportedBootModes: ['legacy-bios', 'uefi'],
  };
}

export const describeInstanceTypes = defineHandler('DescribeInstanceTypes', {
  async handle(input, ctx) {
    const page = describe(spec, ctx.services.catalog.instanceTypes(), {
      ids: input.InstanceTypes,
      filters: input.Filters,
      maxResults: input.MaxResults,
      nextToken: input.NextToken,
    });
    return { InstanceTypes: page.items.map(toInfo), NextToken: page.nextToken };
  },
});
