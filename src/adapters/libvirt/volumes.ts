/**
 * EBS volumes in libvirt domains: a raw virtio disk whose serial is the volume id as Nitro shows it, without the
 * hyphen (vol0123456789abcdef0: virtio-blk serials hold 20 bytes, as NVMe's do; `lsblk -o +SERIAL`,
 * /sys/block/vdX/serial), plugged live and into the persistent definition.
 * An NBD export is opened by QEMU itself (no device on this host); an export of kind 'block' is the local device.
 * The guest-side name is vd<letters of the requested name> (/dev/sdf -> vdf): the guest kernel names disks in
 * the order it finds them, so the serial is what identifies the volume, as on EC2's Nitro instances.
 */
import type { VolumeAttachment } from '../../ports/compute.js';
import { assertSafeName } from '../exec/index.js';
import { volumeId as checkVolumeId } from '../lvm/names.js';
import { renderDiskXml, type DiskParams } from './templates.js';

const DEVICE_NAME = /^\/dev\/(sd|xvd|vd)([b-z][a-z]?)$/;

/** The virtio target for a requested device name: /dev/sdf and /dev/xvdf both give vdf. */
export function targetFor(deviceName: string): string {
  const m = DEVICE_NAME.exec(deviceName);
  if (!m) throw new TypeError(`invalid device name: ${JSON.stringify(deviceName)} (/dev/sdf ... /dev/sdp, /dev/xvdf ...)`);
  return `vd${m[2]}`;
}

/** The disk serial of a volume: its id without the hyphen, as EBS volumes show on Nitro (20 characters). */
export function volumeSerial(volumeId: string): string {
  return checkVolumeId(volumeId).replace('-', '');
}

export function volumeDiskXml(a: VolumeAttachment): string {
  return renderDiskXml(volumeDiskParams(a, targetFor(a.deviceName)));
}

/** The disk of an EBS volume at a virtio target (vda for a root volume, whose device name is /dev/xvda or /dev/sda1). */
export function volumeDiskParams(a: VolumeAttachment, target: string, bootOrder?: number): DiskParams {
  checkVolumeId(a.volumeId);
  const base = { device: 'disk', format: 'raw', target, bus: 'virtio', serial: volumeSerial(a.volumeId), bootOrder } as const;
  let params: DiskParams;
  if (a.export.kind === 'nbd') {
    const { host, port, exportName } = a.export;
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new TypeError(`bad NBD host ${JSON.stringify(host)}`);
    params = { ...base, type: 'network', source: '', nbd: { host, port, exportName: assertSafeName('export', exportName) } };
  } else {
    const path = a.export.devicePath;
    if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.+-]*$/.test(path) || path.includes('..')) throw new TypeError(`not a device path: ${JSON.stringify(path)}`);
    params = { ...base, type: 'block', source: path };
  }
  return params;
}

/** The target (vdX) of the domain's disk whose serial is the volume id, from `virsh dumpxml`. */
export function targetOfVolume(domainXml: string, volumeId: string): string | undefined {
  for (const disk of domainXml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? []) {
    if (disk.includes(`<serial>${volumeSerial(volumeId)}</serial>`)) return /<target dev='([a-z]+)'/.exec(disk)?.[1];
  }
  return undefined;
}
