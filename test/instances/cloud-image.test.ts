import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  DeregisterImageCommand,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { cloudInitReportScript } from '../support/cloud-image.js';
import { needBackend } from '../support/backends.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';

/**
 * Issue 10: a stock Debian cloud image (scripts/build-cloud-image.sh, run by scripts/setup-host.sh) boots under
 * the libvirt backend unchanged, and cloud-init's EC2 datasource finds the metadata service: it runs the user
 * data and installs the key pair's key, with no NoCloud seed attached. A systemd boot under TCG takes about three
 * minutes; this is the one test that pays for it (bench/cloud-image.ts prints where the time goes).
 */
const DIR = process.env.THECLOUD_CLOUD_IMAGE ?? '/var/lib/thecloud/images/debian-12-cloud';

describe('a stock cloud image with cloud-init (libvirt)', function () {
  this.timeout(900_000);
  const scratch = mkdtempSync(join(tmpdir(), 'thecloud-cloudinit-'));
  let instanceId: string | undefined;
  let imageId: string | undefined;

  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'libvirt' },
    requires: async (ctx) => {
      await needBackend(ctx, 'libvirt', () => new LibvirtComputeBackend().probe());
      await needBackend(ctx, 'cloud image', async () => ({ ok: existsSync(join(DIR, 'root.qcow2')), detail: `${DIR}/root.qcow2 (scripts/build-cloud-image.sh)` }));
    },
    beforeClose: async ({ ec2 }) => {
      if (instanceId) {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch(() => undefined);
        await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] }).catch(() => undefined);
      }
      if (imageId) await ec2.send(new DeregisterImageCommand({ ImageId: imageId })).catch(() => undefined);
    },
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('boots with no seed, and cloud-init reads the metadata service: user data runs, the key pair\'s key is installed', async () => {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cloud-image-test', '-f', join(scratch, 'key')]);
    const publicKey = readFileSync(join(scratch, 'key.pub'), 'utf8').trim();
    await t.ec2.send(new ImportKeyPairCommand({ KeyName: 'cloud-image-test', PublicKeyMaterial: Buffer.from(publicKey) }));
    imageId = (await t.ec2.send(new RegisterImageCommand({ Name: 'debian-12-cloud', ImageLocation: DIR }))).ImageId!;

    const marker = `ci-marker-${randomBytes(4).toString('hex')}`;
    const userData = cloudInitReportScript(marker);
    instanceId = (await t.ec2.send(new RunInstancesCommand({
      ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', KeyName: 'cloud-image-test', UserData: Buffer.from(userData).toString('base64'),
    }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 180, minDelay: 1, maxDelay: 2 }, { InstanceIds: [instanceId] });

    const xml = (await execa('virsh', ['-c', process.env.LIBVIRT_URI ?? 'qemu:///system', 'dumpxml', instanceId])).stdout;
    assert.doesNotMatch(xml, /device='cdrom'/, 'no NoCloud seed is attached');
    assert.match(xml, /<entry name='manufacturer'>Amazon EC2<\/entry>/, 'the firmware says EC2, as cloud-init checks');

    // Polled until cloud-init says it finished (or ten minutes pass): a deadline for a hung guest, not a timing claim.
    let text = '';
    for (const end = Date.now() + 600_000; Date.now() < end; await sleep(3000)) {
      const out = await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: instanceId, Latest: true }));
      text = Buffer.from(out.Output ?? '', 'base64').toString('utf8');
      if (text.includes(`${marker} authorized_keys`) && /Cloud-init v\. [\d.]+ finished/.test(text)) break;
    }
    const lines = text.split('\n').filter((l) => l.includes(marker) && !l.includes('echo')).map((l) => l.slice(l.indexOf(marker) + marker.length + 1).trim());
    assert.ok(lines.length, `the user data ran; console tail:\n${text.slice(-3000)}`);
    assert.ok(lines.some((l) => /^datasource=ec2\/metadata \(http:\/\/169\.254\.169\.254\)/.test(l)), `cloud-init chose the EC2 datasource: ${lines.join(' | ')}`);
    assert.ok(lines.includes(`instance=${instanceId}`), `cloud-init knows the instance id from the service: ${lines.join(' | ')}`);
    assert.ok(lines.some((l) => l.startsWith('authorized_keys:') && l.includes(publicKey.split(' ')[1]!)), `the key pair's key is installed: ${lines.join(' | ')}`);
  });
});
