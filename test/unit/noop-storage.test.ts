import assert from 'node:assert/strict';
import { NoopComputeBackend } from '../../src/adapters/noop/index.js';
import { NoopStorageBackend } from '../../src/adapters/noop/storage.js';
import { StorageBusyError, StorageCapacityError, StorageNotFoundError } from '../../src/ports/storage.js';

const vol = (n: number) => `vol-${String(n).padStart(17, '0')}`;
const snap = (n: number) => `snap-${String(n).padStart(17, '0')}`;

describe('noop storage adapter (the whole port in memory)', () => {
  it('keeps distinct volumes, snapshots that outlive them, and exact restores that touch nothing else', async () => {
    const s = new NoopStorageBackend();
    await s.createVolume(vol(1), 1);
    await s.createVolume(vol(2), 1);
    s.writeContent(vol(1), 'a1');
    s.writeContent(vol(2), 'b1');
    assert.equal(s.contentOf(vol(2)), 'b1', 'volumes share content');
    await s.createSnapshot(vol(1), snap(1));
    s.writeContent(vol(1), 'a2');
    await s.deleteVolume(vol(1));
    await s.createVolume(vol(3), 2, { snapshotId: snap(1) });
    assert.equal(s.contentOf(vol(3)), 'a1');
    s.writeContent(vol(3), 'c2');
    await s.restoreSnapshotInPlace(snap(1), vol(3));
    assert.deepEqual([s.contentOf(vol(3)), s.contentOf(vol(2)), s.contentOf(snap(1))], ['a1', 'b1', 'a1']);
    const inv = await s.list();
    assert.deepEqual(inv.snapshots, [{ snapshotId: snap(1), volumeId: vol(1), sizeGiB: 1 }]);
    assert.deepEqual(inv.volumes.find((v) => v.volumeId === vol(3)), { volumeId: vol(3), sizeGiB: 2, source: { snapshotId: snap(1) } });
  });

  it('tells a merge from a swap and renames a volume (content kept, snapshots follow their origin) as the LVM adapter does', async () => {
    const s = new NoopStorageBackend();
    await s.createVolume(vol(1), 1);
    s.writeContent(vol(1), 'a1');
    await s.createSnapshot(vol(1), snap(1));
    await s.createVolume(vol(2), 1, { snapshotId: snap(1) });
    assert.equal(await s.restoreMerges(snap(1), vol(1)), true);
    assert.equal(await s.restoreMerges(snap(1), vol(2)), false);
    await assert.rejects(s.renameVolume(vol(1), vol(2)), /already exists/);
    await s.renameVolume(vol(1), vol(3));
    await s.renameVolume(vol(1), vol(3)); // idempotent
    assert.equal(s.contentOf(vol(3)), 'a1');
    assert.equal(await s.restoreMerges(snap(1), vol(3)), true);
    assert.deepEqual((await s.list()).volumes.map((v) => v.volumeId).sort(), [vol(2), vol(3)]);
    await s.export(vol(3), 'local');
    await assert.rejects(s.renameVolume(vol(3), vol(4)), StorageBusyError);
  });

  it('answers capacity, not-found, busy and range errors as the LVM adapter does', async () => {
    const s = new NoopStorageBackend(10);
    await s.createVolume(vol(1), 8);
    await assert.rejects(s.createVolume(vol(2), 3), StorageCapacityError);
    assert.equal((await s.list()).volumes.length, 1, 'a volume that did not fit was made');
    await assert.rejects(s.createVolume(vol(2), 1, { snapshotId: snap(9) }), StorageNotFoundError);
    await assert.rejects(s.resizeVolume(vol(1), 4), RangeError);
    await s.export(vol(1), 'local');
    await assert.rejects(s.deleteVolume(vol(1)), StorageBusyError);
    await s.unexport(vol(1));
    await s.deleteVolume(vol(1));
    await assert.rejects(s.createVolume('vol-x;reboot', 1), TypeError);
  });

  it('noop compute keeps attachments per instance and refuses a taken device name', async () => {
    const c = new NoopComputeBackend();
    const spec = { accountId: '000000000000', imageRef: 'noop:base', vcpus: 1, memoryMiB: 64, hostname: 'h', publicKeys: [] };
    const { backendId: a } = await c.create({ ...spec, instanceId: 'i-00000000000000001' });
    const { backendId: b } = await c.create({ ...spec, instanceId: 'i-00000000000000002' });
    const exp = { kind: 'block', devicePath: '/dev/thecloud-noop/x' } as const;
    await c.attachVolume(a, { volumeId: vol(1), deviceName: '/dev/sdf', export: exp });
    await assert.rejects(c.attachVolume(a, { volumeId: vol(2), deviceName: '/dev/sdf', export: exp }), /in use/);
    await assert.rejects(c.attachVolume(b, { volumeId: vol(1), deviceName: '/dev/sdf', export: exp }), /another instance/);
    await c.detachVolume(a, vol(1));
    assert.equal(c.attachedVolumes(a).size, 0);
  });
});
