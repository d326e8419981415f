import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ec2SystemUuid,
  renderDiskXml,
  renderDomainXml,
  renderInterfaceXml,
  renderTemplate,
  type DomainParams,
} from '../../src/adapters/libvirt/templates.js';
import { targetFor, targetOfVolume, volumeDiskXml } from '../../src/adapters/libvirt/volumes.js';

/**
 * Golden tests: the libvirt XML rendered from templates/ is compared with the checked-in files in golden/.
 * After an intended template change, regenerate them with UPDATE_GOLDEN=1 and review the diff.
 */
const golden = (name: string) => fileURLToPath(new URL(`./golden/${name}`, import.meta.url));

function matchesGolden(name: string, actual: string): void {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(name), actual);
  assert.equal(actual, readFileSync(golden(name), 'utf8'), `rendered XML differs from test/templates/golden/${name}`);
}

const kernelDomain: DomainParams = {
  name: 'i-0123456789abcdef0',
  domainType: 'qemu',
  instanceId: 'i-0123456789abcdef0',
  accountId: '123456789012',
  cloudId: '0123456789abcdef',
  imageRef: 'kernel:/var/lib/thecloud/images/thecloud-test',
  vcpus: 1,
  memoryMiB: 256,
  boot: {
    kind: 'kernel',
    kernel: '/var/lib/thecloud/images/thecloud-test/vmlinuz',
    initrd: '/var/lib/thecloud/images/thecloud-test/initrd.img',
    cmdline: 'console=tty0 console=ttyS0,115200n8 panic=-1',
  },
  disks: [
    { type: 'file', device: 'disk', format: 'qcow2', source: '/var/lib/thecloud/pool/i-0123456789abcdef0-root.qcow2', target: 'vda', bus: 'virtio', serial: 'root' },
    { type: 'file', device: 'cdrom', format: 'raw', source: '/var/lib/thecloud/pool/i-0123456789abcdef0-seed.iso', target: 'hdc', bus: 'ide', readonly: true },
  ],
  interfaces: [],
  consoleLog: '/var/lib/thecloud/console/i-0123456789abcdef0.log',
  vncListen: '127.0.0.1',
};

describe('libvirt XML templates (golden)', () => {
  it('renders a kernel+initrd domain under TCG without network', () => {
    matchesGolden('domain-kernel-qemu.xml', renderDomainXml(kernelDomain));
  });

  it('renders a disk-booted KVM domain with an Open vSwitch interface and a block device', () => {
    const xml = renderDomainXml({
      ...kernelDomain,
      domainType: 'kvm',
      imageRef: 'disk:img-ami-0123456789abcdef0.qcow2',
      vcpus: 4,
      memoryMiB: 2048,
      boot: { kind: 'disk' },
      disks: [
        { ...kernelDomain.disks[0]!, bootOrder: 1 },
        kernelDomain.disks[1]!,
        { type: 'block', device: 'disk', format: 'raw', source: '/dev/thecloud/vol-0123456789abcdef0', target: 'vdb', bus: 'virtio', serial: 'vol-0123456789abcdef0' },
      ],
      interfaces: [{ mac: '02:AB:cd:00:00:01', bridge: 'br-thecloud', openvswitch: true, targetDev: 'tc456789abcdef0' }],
      vncListen: '0.0.0.0',
    });
    matchesGolden('domain-disk-kvm.xml', xml);
  });

  it('renders a stock cloud image domain: the SMBIOS identity of EC2 that cloud-init looks for, no seed', () => {
    const uuid = ec2SystemUuid(kernelDomain.instanceId, kernelDomain.cloudId);
    assert.match(uuid, /^ec2[0-9a-f]{5}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/);
    assert.equal(ec2SystemUuid(kernelDomain.instanceId, kernelDomain.cloudId), uuid, 'the same instance keeps its uuid');
    assert.notEqual(ec2SystemUuid('i-0123456789abcdef1', kernelDomain.cloudId), uuid);
    const xml = renderDomainXml({
      ...kernelDomain,
      imageRef: 'kernel:/var/lib/thecloud/images/debian-12-cloud:import-0123456789abcdef0123.qcow2',
      boot: {
        kind: 'kernel',
        kernel: '/var/lib/thecloud/images/debian-12-cloud/vmlinuz',
        initrd: '/var/lib/thecloud/images/debian-12-cloud/initrd.img',
        cmdline: 'console=tty0 console=ttyS0,115200n8 panic=-1 root=LABEL=debian-root ro network-config=dmVyc2lvbjogMgo=',
        seed: false,
      },
      disks: [kernelDomain.disks[0]!],
      ec2Identity: { uuid, product: 't3.micro' },
    });
    matchesGolden('domain-ec2-identity.xml', xml);
    assert.throws(() => renderDomainXml({ ...kernelDomain, ec2Identity: { uuid: '12345678-1234-1234-1234-123456789abc', product: 't3.micro' } }), /not an EC2 system uuid/);
  });

  it('renders a block device disk for attach-device', () => {
    matchesGolden(
      'disk-block.xml',
      renderDiskXml({ type: 'block', device: 'disk', format: 'raw', source: '/dev/thecloud/vol-0a', target: 'vdc', bus: 'virtio' }),
    );
  });

  it('renders an EBS volume from an NBD export as a virtio disk whose serial is the volume id', () => {
    const xml = volumeDiskXml({
      volumeId: 'vol-0123456789abcdef0',
      deviceName: '/dev/sdf',
      export: { kind: 'nbd', host: '127.0.0.1', port: 10810, exportName: 'vol-0123456789abcdef0' },
    });
    matchesGolden('disk-nbd-volume.xml', xml);
    assert.equal(targetOfVolume(`<domain><devices>${xml}</devices></domain>`, 'vol-0123456789abcdef0'), 'vdf');
    assert.equal(targetFor('/dev/xvdg'), 'vdg');
    assert.throws(() => targetFor('/dev/sdf1; reboot'), /invalid device name/);
    assert.throws(
      () => volumeDiskXml({ volumeId: 'vol-0123456789abcdef0', deviceName: '/dev/sdf', export: { kind: 'nbd', host: "x'/><evil", port: 1, exportName: 'vol-0123456789abcdef0' } }),
      /bad NBD host/,
    );
  });

  it('renders an EBS volume on this host as a raw block disk', () => {
    const xml = volumeDiskXml({ volumeId: 'vol-0123456789abcdef0', deviceName: '/dev/xvdh', export: { kind: 'block', devicePath: '/dev/thecloud-vg/vol-0123456789abcdef0' } });
    matchesGolden('disk-block-volume.xml', xml);
  });

  it('renders an interface on a Linux bridge', () => {
    matchesGolden(
      'interface-linux-bridge.xml',
      renderInterfaceXml({ mac: '52:54:00:12:34:56', bridge: 'virbr0', openvswitch: false, targetDev: 'tc0000000000001' }),
    );
  });

  it('renders a NIC of the OVS data plane: its VPC bridge, the ENI tap and interface id, checksums by the guest', () => {
    matchesGolden(
      'interface-ovs-port.xml',
      renderInterfaceXml({ mac: '02:00:00:12:34:56', bridge: 'tcb0123456789ab', openvswitch: true, targetDev: 'tct0123456789ab', interfaceId: '0b1c2d3e-4f50-5617-8899-aabbccddeeff' }),
    );
  });

  it('escapes every value, so that a value cannot add XML', () => {
    const xml = renderDomainXml({ ...kernelDomain, accountId: `<x a='1' b="2">&amp;</x>`, boot: { ...kernelDomain.boot, cmdline: "a='b' c<d" } as DomainParams['boot'] });
    matchesGolden('domain-escaped.xml', xml);
    assert.ok(!xml.includes('<x '));
  });

  it('reads no tags inside values (no template injection)', () => {
    assert.equal(renderTemplate('<a>{{v}}</a>{{{w}}}', { v: '{{w}}', w: '' }), '<a>{{w}}</a>');
  });

  it('refuses values XML cannot hold, missing values and bad numbers', () => {
    assert.throws(() => renderDomainXml({ ...kernelDomain, accountId: 'a\u0001b' }), /cannot be put into XML/);
    assert.throws(() => renderTemplate('{{nope}}', {}), /nope is missing/);
    assert.throws(() => renderDomainXml({ ...kernelDomain, vcpus: 0 }), /vcpus/);
    assert.throws(() => renderDomainXml({ ...kernelDomain, memoryMiB: 1.5 }), /memoryMiB/);
    assert.throws(() => renderInterfaceXml({ mac: 'nope', bridge: 'b', openvswitch: false, targetDev: 't' }), /MAC/);
  });
});
