/** The pure EBS rules: AWS's limits per volume type, device names, and the reconciliation tables. */
import assert from 'node:assert/strict';
import { checkVolumeShape, deviceSlot } from '../../src/domain/volume-types.js';
import { attachmentAction, snapshotAction, volumeAction } from '../../src/domain/volume-transitions.js';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'ok';
};

describe('EBS rules (pure)', () => {
  it('takes each type within its size limits and refuses just outside them', () => {
    const cases: [string, number, number][] = [['gp2', 1, 16384], ['gp3', 1, 16384], ['io1', 4, 16384], ['io2', 4, 65536], ['st1', 125, 16384], ['sc1', 125, 16384], ['standard', 1, 1024]];
    for (const [type, min, max] of cases) {
      const iops = type.startsWith('io') ? 100 : undefined;
      assert.equal(codeOf(() => checkVolumeShape({ type, sizeGiB: min, iops })), 'ok', `${type} ${min}`);
      assert.equal(codeOf(() => checkVolumeShape({ type, sizeGiB: max, iops })), 'ok', `${type} ${max}`);
      if (min > 1) assert.equal(codeOf(() => checkVolumeShape({ type, sizeGiB: min - 1, iops })), 'InvalidParameterValue', `${type} ${min - 1}`);
      assert.equal(codeOf(() => checkVolumeShape({ type, sizeGiB: max + 1, iops })), 'InvalidParameterValue', `${type} ${max + 1}`);
    }
  });

  it('fills in AWS defaults and checks IOPS and throughput per type', () => {
    assert.deepEqual(checkVolumeShape({ sizeGiB: 100 }), { type: 'gp2', sizeGiB: 100, iops: 300, throughput: null });
    assert.deepEqual(checkVolumeShape({ sizeGiB: 1 }).iops, 100);
    assert.deepEqual(checkVolumeShape({ type: 'gp3', sizeGiB: 8 }), { type: 'gp3', sizeGiB: 8, iops: 3000, throughput: 125 });
    assert.equal(codeOf(() => checkVolumeShape({ type: 'gp3', sizeGiB: 8, iops: 2999 })), 'InvalidParameterValue');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'gp3', sizeGiB: 1, iops: 3000 })), 'ok', "gp3's baseline comes with any size");
    assert.equal(codeOf(() => checkVolumeShape({ type: 'gp3', sizeGiB: 7, iops: 4000 })), 'InvalidParameterValue', '500 IOPS per GiB above the baseline');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'gp3', sizeGiB: 8, iops: 3000, throughput: 751 })), 'InvalidParameterValue', '0.25 MiB/s per IOPS');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'io1', sizeGiB: 10, iops: 500 })), 'ok');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'io1', sizeGiB: 10, iops: 501 })), 'InvalidParameterValue', '50 IOPS per GiB');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'io2', sizeGiB: 10 })), 'MissingParameter');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'st1', sizeGiB: 500, iops: 100 })), 'InvalidParameterCombination');
    assert.equal(codeOf(() => checkVolumeShape({ type: 'gp2', sizeGiB: 5, throughput: 200 })), 'InvalidParameterCombination');
    assert.equal(codeOf(() => checkVolumeShape({ sizeGiB: 4 }, 8)), 'InvalidParameterValue', 'smaller than the snapshot');
    assert.equal(checkVolumeShape({}, 8).sizeGiB, 8, 'the snapshot size by default');
  });

  it('takes /dev/sd[b-z] and /dev/xvd[b-z] as one slot per letter, nothing else', () => {
    assert.equal(deviceSlot('/dev/sdf'), deviceSlot('/dev/xvdf'));
    for (const bad of ['sdf', '/dev/sda', '/dev/xvda', '/dev/sdf1', '/dev/vdb', '/dev/sd', '/dev/../sdf']) {
      assert.equal(codeOf(() => deviceSlot(bad)), 'InvalidParameterValue', bad);
    }
  });

  it('reconciles by (recorded x host): resume transitions, flag lost disks, remove disks of deleted volumes, release gone instances', () => {
    assert.equal(volumeAction('creating', false), 'resume');
    assert.equal(volumeAction('available', false), 'lost');
    assert.equal(volumeAction('in-use', true), 'none');
    assert.equal(volumeAction('deleting', true), 'resume');
    assert.equal(volumeAction('deleted', true), 'remove-disk');
    assert.equal(volumeAction('error', false), 'none');
    assert.equal(attachmentAction('attaching', true), 'plug');
    assert.equal(attachmentAction('attached', false), 'release');
    assert.equal(attachmentAction('detaching', true), 'unplug');
    assert.equal(snapshotAction('pending', false), 'resume');
    assert.equal(snapshotAction('completed', false), 'lost');
    assert.equal(snapshotAction('completed', true), 'none');
  });
});
