/**
 * The instance type catalogue. vCPU and memory figures here are what the compute backends enforce
 * (container CPU/memory limits, a domain's vCPUs and memory).
 */
export interface InstanceTypeSpec {
  name: string;
  vcpus: number;
  memoryMiB: number;
  architecture: 'x86_64' | 'arm64';
  burstable: boolean;
  freeTier: boolean;
  currentGeneration: boolean;
  networkPerformance: string;
  maxEnis: number;
  ipv4PerEni: number;
}

type Size = [size: string, vcpus: number, memGiB: number];

const BURST_SIZES: Size[] = [
  ['nano', 2, 0.5], ['micro', 2, 1], ['small', 2, 2], ['medium', 2, 4], ['large', 2, 8], ['xlarge', 4, 16], ['2xlarge', 8, 32],
];
const T2_SIZES: Size[] = [
  ['nano', 1, 0.5], ['micro', 1, 1], ['small', 1, 2], ['medium', 2, 4], ['large', 2, 8], ['xlarge', 4, 16], ['2xlarge', 8, 32],
];
const scaled = (gibPerVcpu: number): Size[] =>
  ([['large', 2], ['xlarge', 4], ['2xlarge', 8], ['4xlarge', 16], ['8xlarge', 32]] as [string, number][]).map(
    ([s, v]) => [s, v, v * gibPerVcpu],
  );

const FAMILIES: { family: string; sizes: Size[]; arch: 'x86_64' | 'arm64'; burstable: boolean; current: boolean }[] = [
  { family: 't2', sizes: T2_SIZES, arch: 'x86_64', burstable: true, current: true },
  { family: 't3', sizes: BURST_SIZES, arch: 'x86_64', burstable: true, current: true },
  { family: 't3a', sizes: BURST_SIZES, arch: 'x86_64', burstable: true, current: true },
  { family: 't4g', sizes: BURST_SIZES, arch: 'arm64', burstable: true, current: true },
  { family: 'm5', sizes: scaled(4), arch: 'x86_64', burstable: false, current: true },
  { family: 'm6i', sizes: scaled(4), arch: 'x86_64', burstable: false, current: true },
  { family: 'm7i', sizes: scaled(4), arch: 'x86_64', burstable: false, current: true },
  { family: 'c5', sizes: scaled(2), arch: 'x86_64', burstable: false, current: true },
  { family: 'c6i', sizes: scaled(2), arch: 'x86_64', burstable: false, current: true },
  { family: 'r5', sizes: scaled(8), arch: 'x86_64', burstable: false, current: true },
  { family: 'r6i', sizes: scaled(8), arch: 'x86_64', burstable: false, current: true },
  { family: 'm4', sizes: scaled(4).slice(0, 4), arch: 'x86_64', burstable: false, current: false },
];

function enis(vcpus: number): [number, number] {
  if (vcpus <= 1) return [2, 2];
  if (vcpus <= 2) return [3, 6];
  if (vcpus <= 4) return [4, 15];
  return [8, 30];
}

export const INSTANCE_TYPES: ReadonlyMap<string, InstanceTypeSpec> = new Map(
  FAMILIES.flatMap(({ family, sizes, arch, burstable, current }) =>
    sizes.map(([size, vcpus, gib]): [string, InstanceTypeSpec] => {
      const name = `${family}.${size}`;
      const [maxEnis, ipv4PerEni] = enis(vcpus);
      return [
        name,
        {
          name,
          vcpus,
          memoryMiB: Math.round(gib * 1024),
          architecture: arch,
          burstable,
          freeTier: name === 't2.micro' || name === 't3.micro',
          currentGeneration: current,
          networkPerformance: vcpus >= 16 ? 'Up to 12.5 Gigabit' : burstable ? 'Up to 5 Gigabit' : 'Up to 10 Gigabit',
          maxEnis,
          ipv4PerEni,
        },
      ];
    }),
  ),
);

/** AWS launches m1.small when no type is given; that type is not in our catalogue, so the smallest current one stands in. */
export const DEFAULT_INSTANCE_TYPE = 't2.micro';

export function instanceType(name: string): InstanceTypeSpec | undefined {
  return INSTANCE_TYPES.get(name);
}
