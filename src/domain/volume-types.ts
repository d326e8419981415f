/**
 * EBS volume types and AWS's limits on size, IOPS and throughput per type (as documented for EC2, 2016-11-15 API
 * today): what CreateVolume accepts and the IOPS/throughput a volume reports. Pure: no database, no host.
 */
import { Ec2Error, invalidParameterValue, invalidParameterCombination, missingParameter } from '../errors/index.js';

interface TypeLimits {
  minGiB: number;
  maxGiB: number;
  /** Provisioned IOPS: [min, max, max per GiB]; absent where Iops cannot be given */
  iops?: { min: number; max: number; perGiB: number; required: boolean; dflt?: number };
  /** gp3 only: [min, max] MiB/s, default, and at most this much per provisioned IOPS */
  throughput?: { min: number; max: number; dflt: number; perIops: number };
}

export const VOLUME_TYPES: Record<string, TypeLimits> = {
  standard: { minGiB: 1, maxGiB: 1024 },
  gp2: { minGiB: 1, maxGiB: 16384 },
  gp3: { minGiB: 1, maxGiB: 16384, iops: { min: 3000, max: 16000, perGiB: 500, required: false, dflt: 3000 }, throughput: { min: 125, max: 1000, dflt: 125, perIops: 0.25 } },
  io1: { minGiB: 4, maxGiB: 16384, iops: { min: 100, max: 64000, perGiB: 50, required: true } },
  io2: { minGiB: 4, maxGiB: 65536, iops: { min: 100, max: 256000, perGiB: 1000, required: true } },
  st1: { minGiB: 125, maxGiB: 16384 },
  sc1: { minGiB: 125, maxGiB: 16384 },
};

export interface VolumeShape {
  type: string;
  sizeGiB: number;
  iops: number | null;
  throughput: number | null;
}

/** gp2's burst baseline: 3 IOPS per GiB, at least 100, at most 16000. */
export const gp2Iops = (sizeGiB: number) => Math.max(100, Math.min(16000, 3 * sizeGiB));

/**
 * Checks a volume's type, size, IOPS and throughput as CreateVolume does, and fills in the defaults. `minGiB`
 * is the snapshot's size when the volume is made from one.
 */
export function checkVolumeShape(input: { type?: string; sizeGiB?: number; iops?: number; throughput?: number }, minGiB = 0): VolumeShape {
  const type = input.type ?? 'gp2';
  const limits = VOLUME_TYPES[type];
  if (!limits) {
    throw invalidParameterValue('volumeType', type, `Valid values are ${Object.keys(VOLUME_TYPES).join(', ')}.`);
  }
  const size = input.sizeGiB ?? minGiB;
  if (!Number.isInteger(size) || size <= 0) throw missingParameter('size');
  if (size < minGiB) {
    throw invalidParameterValue('size', size, `Volume of ${size}GiB is too small for the snapshot; minimum is ${minGiB}GiB.`);
  }
  if (size < limits.minGiB) throw new Ec2Error('InvalidParameterValue', `Volume of ${size}GiB is too small; minimum is ${limits.minGiB}GiB.`);
  if (size > limits.maxGiB) throw new Ec2Error('InvalidParameterValue', `Volume of ${size}GiB is too large for volume type ${type}; maximum is ${limits.maxGiB}GiB.`);

  let iops: number | null = null;
  if (limits.iops) {
    const l = limits.iops;
    if (input.iops === undefined) {
      if (l.required) throw missingParameter('iops');
      iops = l.dflt!;
    } else {
      iops = input.iops;
      if (!Number.isInteger(iops) || iops < l.min || iops > l.max) {
        throw invalidParameterValue('iops', iops, `Volume type ${type} takes ${l.min} to ${l.max} IOPS.`);
      }
      // gp3's baseline (3000 IOPS) comes with any size; only IOPS above it are bound to the size.
      if (iops / size > l.perGiB && !(l.dflt !== undefined && iops <= l.dflt)) {
        throw new Ec2Error('InvalidParameterValue', `Iops to volume size ratio of ${(iops / size).toFixed(6)} is too high; maximum is ${l.perGiB.toFixed(6)}.`);
      }
    }
  } else if (input.iops !== undefined) {
    throw invalidParameterCombination(`The parameter iops is not supported for ${type} volumes.`);
  } else if (type === 'gp2') {
    iops = gp2Iops(size);
  } else if (type === 'st1' || type === 'sc1') {
    iops = null;
  }

  let throughput: number | null = null;
  if (limits.throughput) {
    const t = limits.throughput;
    throughput = input.throughput ?? t.dflt;
    if (!Number.isInteger(throughput) || throughput < t.min || throughput > t.max) {
      throw invalidParameterValue('throughput', throughput, `Volume type ${type} takes ${t.min} to ${t.max} MiB/s.`);
    }
    if (throughput > iops! * t.perIops) {
      throw new Ec2Error('InvalidParameterValue', `Throughput (MiBps) to iops ratio of ${(throughput / iops!).toFixed(6)} is too high; maximum is ${t.perIops.toFixed(6)} MiBps per iops.`);
    }
  } else if (input.throughput !== undefined) {
    throw invalidParameterCombination(`The parameter throughput is not supported for ${type} volumes.`);
  }
  return { type, sizeGiB: size, iops, throughput };
}

/** Device names AttachVolume takes (Linux, as EC2 recommends them for EBS data volumes). */
const DEVICE = /^\/dev\/(sd|xvd)([b-z])$/;

/** The device's slot letter (/dev/sdf and /dev/xvdf are the same slot), or an AWS error for a bad name. */
export function deviceSlot(device: string): string {
  const m = DEVICE.exec(device);
  if (!m) throw new Ec2Error('InvalidParameterValue', `Invalid value '${device}' for unixDevice. Attachment point ${device} is not valid.`);
  return m[2]!;
}
