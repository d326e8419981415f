/**
 * EBS volumes in libvirt domains: a raw virtio disk whose serial is the volume id (so the guest finds it as Nitro
 * shows it: `lsblk -o +SERIAL`, /dev/disk/by-id/virtio-vol-…), plugged live and into the persistent definition.
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

export function volumeDiskXml(a: VolumeAttachment): string {
  checkVolumeId(a.volumeId);
  const base = { device: 'disk', format: 'raw', target: targetFor(a.deviceName), bus: 'virtio', serial: a.volumeId } as const;
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
  return renderDiskXml(params);
}

/** The target (vdX) of the domain's disk whose serial is the volume id, from `virsh dumpxml`. */
export function targetOfVolume(domainXml: string, volumeId: string): string | undefined {
  for (const disk of domainXml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? []) {
    if (new RegExp(`<serial>${checkVolumeId(volumeId)}</serial>`).test(disk)) return /<target dev='([a-z]+)'/.exec(disk)?.[1];
  }
  return undefined;
}
