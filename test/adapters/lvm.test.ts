/**
 * The LVM storage adapter against the real storage host (scripts/setup-storage-host.sh boots it). Checksums are
 * taken on the storage host itself, of the first MiBs of each LV: what a restore must give back exactly.
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { StorageBusyError, StorageCapacityError, StorageNotFoundError } from '../../src/ports/storage.js';
import { needBackend } from '../support/backends.js';
import { snapId, testStorage, volId } from '../support/storage.js';

describe('lvm storage adapter (real LVM on the storage host)', function () {
  const t = testStorage();
  const b = t.backend;

  before(async function () {
    await needBackend(this, 'lvm', () => b.probe());
  });
  after(() => t.cleanup());

  const lvSize = async (id: string) =>
    Number((await t.host.run('lvs', ['--noheadings', '--units', 'b', '--nosuffix', '-o', 'lv_size', `${t.vg}/${id}`])).stdout.trim());

  it('refuses malformed ids and sizes before any command', async () => {
    await assert.rejects(b.createVolume('vol-1;reboot', 1), TypeError);
    await assert.rejects(b.createVolume(volId(), 0), RangeError);
    await assert.rejects(b.createSnapshot(volId(), 'snap-$(id)'), TypeError);
    await assert.rejects(b.export('../etc', 'local'), TypeError);
  });

  it('creates distinct volumes of exactly the size asked, lists them, grows one and never shrinks it', async () => {
    const [a, c] = [volId(), volId()];
    await b.createVolume(a, 1);
    await b.createVolume(a, 1); // a retried create is fine
    await b.createVolume(c, 2);
    assert.equal(await lvSize(a), 1024 ** 3);
    assert.equal(await lvSize(c), 2 * 1024 ** 3);
    await t.scribble(a);
    assert.notEqual(await t.checksum(a), await t.checksum(c), 'two volumes share their bytes');
    const inv = await b.list();
    assert.deepEqual(inv.volumes.filter((v) => [a, c].includes(v.volumeId)).sort((x, y) => x.sizeGiB - y.sizeGiB), [
      { volumeId: a, sizeGiB: 1 },
      { volumeId: c, sizeGiB: 2 },
    ]);
    await b.resizeVolume(a, 3);
    assert.equal(await lvSize(a), 3 * 1024 ** 3);
    await assert.rejects(b.resizeVolume(a, 2), RangeError);
    await b.deleteVolume(c);
    await b.deleteVolume(c); // idempotent
    assert.ok(!(await b.list()).volumes.some((v) => v.volumeId === c));
    // Another installation sees none of it.
    assert.deepEqual((await testStorage().backend.list()).volumes.filter((v) => v.volumeId === a), []);
  });

  it('takes point-in-time snapshots that outlive their volume and restore exactly into new volumes', async () => {
    const v = volId();
    const s1 = snapId();
    await b.createVolume(v, 1);
    await t.scribble(v);
    const before = await t.checksum(v);
    await b.createSnapshot(v, s1);
    await t.scribble(v);
    assert.notEqual(await t.checksum(v), before);
    await b.deleteVolume(v);
    assert.deepEqual((await b.list()).snapshots.find((s) => s.snapshotId === s1), { snapshotId: s1, volumeId: v, sizeGiB: 1 });
    const r = volId();
    await b.createVolume(r, 2, { snapshotId: s1 }); // larger than the snapshot: grown
    assert.equal(await t.checksum(r), before);
    assert.equal(await lvSize(r), 2 * 1024 ** 3);
    assert.deepEqual((await b.list()).volumes.find((x) => x.volumeId === r)?.source, { snapshotId: s1 });
    await assert.rejects(b.createVolume(volId(), 1, { snapshotId: snapId() }), StorageNotFoundError);
  });

  it('restores in place into the right volume and no other, keeping the snapshot (merge and swap paths)', async () => {
    const [v, w] = [volId(), volId()];
    const [sv, sw] = [snapId(), snapId()];
    await b.createVolume(v, 1);
    await b.createVolume(w, 1);
    await t.scribble(v);
    await t.scribble(w);
    const v1 = await t.checksum(v);
    const w1 = await t.checksum(w);
    await b.createSnapshot(v, sv);
    await b.createSnapshot(w, sw);
    await t.scribble(v);
    await t.scribble(w);
    const w2 = await t.checksum(w);
    await b.resizeVolume(v, 2);

    // Merge path: sv was taken of v.
    await b.restoreSnapshotInPlace(sv, v);
    assert.equal(await t.checksum(v), v1, 'the volume does not hold the snapshot bytes');
    assert.equal(await lvSize(v), 2 * 1024 ** 3, 'the volume lost its size');
    assert.equal(await t.checksum(w), w2, 'another volume changed');
    const check = volId();
    await b.createVolume(check, 1, { snapshotId: sv });
    assert.equal(await t.checksum(check), v1, 'the snapshot did not survive the restore unchanged');
    const checkW = volId();
    await b.createVolume(checkW, 1, { snapshotId: sw });
    assert.equal(await t.checksum(checkW), w1, 'another snapshot changed');

    // Swap path: `check` was made from sv, so sv's origin is not `check`.
    await t.scribble(check);
    await b.restoreSnapshotInPlace(sv, check);
    assert.equal(await t.checksum(check), v1);
    assert.equal(await t.checksum(v), v1);
    assert.equal(await t.checksum(w), w2);
    const inv = await b.list();
    assert.deepEqual(inv.leftovers, []);
    assert.ok(inv.snapshots.some((s) => s.snapshotId === sv));

    // Not while exported.
    await b.export(check, 'compute-1');
    await assert.rejects(b.restoreSnapshotInPlace(sv, check), StorageBusyError);
    await b.unexport(check);
  });

  it('tells a merge from a swap, and hands a volume\'s LV to another volume id (UUID and bytes kept), idempotently', async () => {
    const [v, other, renamed] = [volId(), volId(), volId()];
    const s = snapId();
    await b.createVolume(v, 1);
    await t.scribble(v);
    await b.createSnapshot(v, s);
    await b.createVolume(other, 1, { snapshotId: s });
    assert.equal(await b.restoreMerges(s, v), true, 'the snapshot was taken of v');
    assert.equal(await b.restoreMerges(s, other), false, 'other is a clone of the snapshot');
    const uuid = async (id: string) => (await t.host.run('lvs', ['--noheadings', '-o', 'lv_uuid', `${t.vg}/${id}`])).stdout.trim();
    const before = { uuid: await uuid(v), sum: await t.checksum(v) };
    await assert.rejects(b.renameVolume(v, other), /already exists/);
    await assert.rejects(b.renameVolume(v, 'vol-1;reboot'), TypeError);
    await b.renameVolume(v, renamed);
    await b.renameVolume(v, renamed); // a retried rename is done
    assert.deepEqual({ uuid: await uuid(renamed), sum: await t.checksum(renamed) }, before);
    const inv = await b.list();
    assert.ok(inv.volumes.some((x) => x.volumeId === renamed) && !inv.volumes.some((x) => x.volumeId === v));
    assert.equal(await b.restoreMerges(s, renamed), true, 'the snapshot follows its origin\'s new name');
    // A crash between lvrename and the id tag: the retried rename fixes the tag, and the disk is found by its id.
    const cut = volId();
    await t.host.run('lvrename', ['-q', `${t.vg}/${renamed}`, `${t.vg}/${cut}`]);
    await b.renameVolume(renamed, cut);
    const tags = (await t.host.run('lvs', ['--noheadings', '-o', 'lv_tags,lv_uuid', `${t.vg}/${cut}`])).stdout;
    assert.ok(tags.includes(`thecloud.id=${cut}`) && !tags.includes(`thecloud.id=${renamed}`) && tags.includes(before.uuid), tags);
  });

  it('finishes a restore interrupted between its renames (repair)', async () => {
    const v = volId();
    const s = snapId();
    await b.createVolume(v, 1);
    await t.scribble(v);
    const want = await t.checksum(v);
    await b.createSnapshot(v, s);
    const other = volId();
    await b.createVolume(other, 1, { snapshotId: s });
    await t.scribble(other);
    // What a crash after the first rename of the swap leaves: rst.<vol> with the new bytes, old.<vol> and no <vol>.
    const tags = ['thecloud.managed', 'thecloud.kind=volume', `thecloud.id=${other}`, `thecloud.cloud=${t.cloudId}`].flatMap((x) => ['--addtag', x]);
    await t.host.run('lvcreate', ['-q', '-s', '-kn', '-n', `rst.${other}`, ...tags, `${t.vg}/${s}`]);
    await t.host.run('lvrename', ['-q', `${t.vg}/${other}`, `${t.vg}/old.${other}`]);
    assert.deepEqual((await b.list()).leftovers.sort(), [`old.${other}`, `rst.${other}`]);
    const done = await b.repair();
    assert.equal(done.length, 2, done.join('; '));
    assert.deepEqual((await b.list()).leftovers, []);
    assert.equal(await t.checksum(other), want);
  });

  it('answers a capacity error for a volume that does not fit, leaving nothing behind', async () => {
    const before = await b.list();
    const v = volId();
    await assert.rejects(b.createVolume(v, 60000), StorageCapacityError);
    const after = await b.list();
    assert.deepEqual(after, before);
    const r = await t.host.run('lvs', [`${t.vg}/${v}`], { allowFailure: true });
    assert.notEqual(r.exitCode, 0, 'an LV was made');
  });

  it('keeps an image disk unfilled (never cloned) until completeImage, and clones outlive their image disk', async () => {
    const img = `ami-${volId().slice(4)}`;
    await b.createImage(img, 1);
    assert.equal((await b.list()).images.find((i) => i.imageId === img)?.filled, false, 'a fresh image disk is unfilled');
    await assert.rejects(b.createVolume(volId(), 1, { imageId: img }), StorageNotFoundError);
    await b.completeImage(img);
    assert.equal((await b.list()).images.find((i) => i.imageId === img)?.filled, true);
    const v = volId();
    await b.createVolume(v, 1, { imageId: img });
    await t.scribble(v, 1);
    const sum = await t.checksum(v, 1);
    await b.deleteImage(img); // a thin snapshot does not depend on its origin
    assert.ok(!(await b.list()).images.some((i) => i.imageId === img));
    assert.equal(await t.checksum(v, 1), sum);
    await b.deleteVolume(v);
  });

  it('exports a volume over NBD, idempotently, refuses to delete it while exported, and unexports it', async () => {
    const v = volId();
    await b.createVolume(v, 1);
    const e = await b.export(v, 'compute-1');
    assert.equal(e.kind, 'nbd');
    if (e.kind !== 'nbd') return;
    assert.deepEqual(await b.export(v, 'compute-1'), e);
    const info = await execa('qemu-img', ['info', '--output=json', `nbd://${e.host}:${e.port}/${e.exportName}`]);
    assert.equal(JSON.parse(info.stdout)['virtual-size'], 1024 ** 3);
    assert.deepEqual((await b.list()).exports, [{ diskId: v, export: e }]);
    await assert.rejects(b.deleteVolume(v), StorageBusyError);
    await b.unexport(v);
    await b.unexport(v);
    const gone = await execa('qemu-img', ['info', `nbd://${e.host}:${e.port}/${e.exportName}`], { reject: false });
    assert.notEqual(gone.exitCode, 0, 'the export is still served');
    await b.deleteVolume(v);
  });
});
