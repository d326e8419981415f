/**
 * The EBS data path into a libvirt VM: a volume exported over NBD is hot-plugged into a running VM as a virtio
 * disk whose serial is the volume id (without its hyphen, as on Nitro); the guest finds it by that serial, writes to it and prints a checksum; the
 * volume is unplugged, snapshotted and deleted, the snapshot restored into a new volume, and that one plugged into
 * the same running VM, which reads it back by its own serial. The guest's script (user data, run once at boot by
 * the test image's init) reports on the serial console.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { needBackend } from '../support/backends.js';
import { hex, snapId, testStorage, volId } from '../support/storage.js';

const TEST_IMAGE_DIR = process.env.THECLOUD_TEST_IMAGE_DIR ?? '/var/lib/thecloud/images/thecloud-test';

/** Waits for a disk whose serial is $1 and prints its name. */
const FIND = `find_disk() {
  for i in $(seq 1 900); do
    for d in /sys/block/vd*; do [ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && { echo "/dev/\${d##*/}"; return 0; }; done
    sleep 0.2
  done
  return 1
}`;

describe('EBS volumes in libvirt VMs (real LVM + libvirt)', function () {
  this.timeout(600_000); // a VM boot under TCG, and 2 MiB through NBD both ways
  const compute = new LibvirtComputeBackend({ stopTimeoutMs: 5_000 });
  const t = testStorage();
  const storage = t.backend;
  const instanceId = `i-${hex(17)}`;

  before(async function () {
    await needBackend(this, 'lvm', () => storage.probe());
    await needBackend(this, 'libvirt', async () => {
      const p = await compute.probe();
      if (!p.ok) return p;
      return existsSync(join(TEST_IMAGE_DIR, 'vmlinuz')) ? p : { ok: false, detail: `no test image in ${TEST_IMAGE_DIR}` };
    });
  });
  after(async () => {
    await compute.destroy(instanceId).catch(() => undefined);
    await t.cleanup();
  });

  async function console_(pattern: RegExp): Promise<RegExpExecArray> {
    for (let i = 0; i < 600; i++) {
      const m = pattern.exec(await compute.consoleOutput(instanceId));
      if (m) return m;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`the console never showed ${pattern}: ${(await compute.consoleOutput(instanceId)).slice(-2000)}`);
  }

  it('writes through a hot-plugged volume found by its serial, and reads it back from a restored volume plugged later', async () => {
    const [vol, restored] = [volId(), volId()];
    await storage.createVolume(vol, 1);
    const script = `#!/bin/sh
${FIND}
dev=$(find_disk ${vol.replace('-', '')}) || { echo "VOLTEST no disk ${vol}"; exit 1; }
dd if=/dev/urandom of=/tmp/d bs=1M count=1 2>/dev/null
dd if=/tmp/d of=$dev bs=1M oflag=direct conv=fsync 2>/dev/null
echo "VOLTEST wrote $(md5sum </tmp/d | cut -d' ' -f1) on $dev"
dev=$(find_disk ${restored.replace('-', '')}) || { echo "VOLTEST no disk ${restored}"; exit 1; }
echo "VOLTEST read $(dd if=$dev bs=1M count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1) on $dev"
`;
    await compute.create({
      instanceId, accountId: '000000000000', imageRef: `kernel:${TEST_IMAGE_DIR}`, vcpus: 1, memoryMiB: 256,
      hostname: 'voltest', publicKeys: [], userData: Buffer.from(script), firstBootScript: script,
    });
    await compute.start(instanceId); // create defines, start boots
    await compute.attachVolume(instanceId, { volumeId: vol, deviceName: '/dev/sdf', export: await storage.export(vol, 'compute-1') });
    const wrote = (await console_(/VOLTEST (wrote|no disk) (\S+)/))!;
    assert.equal(wrote[1], 'wrote', wrote[0]);

    await compute.detachVolume(instanceId, vol);
    await storage.unexport(vol);
    const snap = snapId();
    await storage.createSnapshot(vol, snap);
    await storage.deleteVolume(vol);
    await storage.createVolume(restored, 1, { snapshotId: snap });
    await compute.attachVolume(instanceId, { volumeId: restored, deviceName: '/dev/sdg', export: await storage.export(restored, 'compute-1') });
    const read = await console_(/VOLTEST (read|no disk) (\S+)/);
    assert.equal(read[2], wrote[2], `read back ${read[0]}, wrote ${wrote[0]}`);

    await compute.detachVolume(instanceId, restored);
    await storage.unexport(restored);
  });
});
