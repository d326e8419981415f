import assert from 'node:assert/strict';
import { checkLaunchMappings } from '../../src/services/instances/volume-step.js';
import { volumeDiskParams } from '../../src/adapters/libvirt/volumes.js';

const code = (fn: () => void) => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).name;
  }
  return 'ok';
};

describe('root device mappings', () => {
  const root = { imageId: 'ami-0123456789abcdef0', sizeGiB: 2 };
  it('with root volumes (libvirt on LVM): VolumeSize at least the image, no SnapshotId, a valid type', () => {
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 4 } }], root)), 'ok');
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false } }], root)), 'ok');
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 1 } }], root)), 'InvalidBlockDeviceMapping');
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0123456789abcdef0' } }], root)), 'UnsupportedOperation');
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 4, VolumeType: 'gp9' } }], root)), 'InvalidParameterValue');
  });
  it('without (Docker, or no LVM): the root device is not an EBS volume, its size cannot be set', () => {
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 4 } }])), 'UnsupportedOperation');
    assert.equal(code(() => checkLaunchMappings([{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false } }])), 'ok');
  });
  it('a root volume is the VM\'s vda, its serial the volume id', () => {
    const p = volumeDiskParams({ volumeId: 'vol-0123456789abcdef0', deviceName: '/dev/xvda', export: { kind: 'nbd', host: '10.0.0.1', port: 10809, exportName: 'vol-0123456789abcdef0' } }, 'vda', 1);
    assert.equal(p.target, 'vda');
    assert.equal(p.serial, 'vol0123456789abcdef0');
    assert.equal(p.type, 'network');
    assert.equal(p.bootOrder, 1);
  });
});
