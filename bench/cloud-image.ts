/**
 * A stock Debian cloud image (scripts/build-cloud-image.sh) booted by the libvirt backend, with cloud-init's EC2
 * datasource reading The Cloud's metadata service: no NoCloud seed. An end-to-end check, and how long it takes.
 *
 *   flock /tmp/thecloud-host.lock npx tsx bench/cloud-image.ts [--dir /var/lib/thecloud/images/debian-12-cloud] [--type t3.micro]
 *
 * It starts an in-process server (test/support/server.ts: libvirt + Open vSwitch, a fresh database), imports a key
 * pair made by ssh-keygen, registers the image directory (RegisterImage ImageLocation=<dir>), runs one instance
 * with that key and #! user data, and waits for the user data's output on the console (GetConsoleOutput). The
 * user data prints a marker, the datasource cloud-init chose and the default user's authorized_keys, so that
 * the console shows: the script ran, cloud-init found the EC2 datasource, the key pair's public key was
 * installed. It also checks that the domain has no CD-ROM (no seed). Exits 1 on any failure; the instance, the
 * image and the key pair are removed at the end, also on failure or Ctrl-C. Under TCG a systemd boot is slow:
 * it prints how long each step took.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  DeleteKeyPairCommand,
  DeregisterImageCommand,
  DescribeInstancesCommand,
  GetConsoleOutputCommand,
  ImportKeyPairCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type _InstanceType,
} from '@aws-sdk/client-ec2';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const DIR = arg('--dir') ?? '/var/lib/thecloud/images/debian-12-cloud';
const TYPE = (arg('--type') ?? 't3.micro') as _InstanceType;
const WAIT_MS = Number(arg('--wait') ?? 600) * 1000;
const URI = process.env.LIBVIRT_URI ?? 'qemu:///system';

const scratch = mkdtempSync(join(tmpdir(), 'thecloud-cloudimage-'));
chmodSync(scratch, 0o755); // the embedded PostgreSQL runs as 'postgres' when we are root
process.env.TMPDIR = scratch;
const { startTestServer, stopCluster } = await import('../test/support/server.js');
const { sdk } = await import('../test/support/clients.js');
const { cloudInitReportScript } = await import('../test/support/cloud-image.js');

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
let ec2: EC2Client | undefined;
let instanceId: string | undefined;
let imageId: string | undefined;
const keyName = `cloud-image-${randomBytes(3).toString('hex')}`;
let keyImported = false;

async function consoleText(id: string): Promise<string> {
  const out = await ec2!.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
  return Buffer.from(out.Output ?? '', 'base64').toString('utf8');
}

async function stateOf(id: string): Promise<string | undefined> {
  return (await ec2!.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (ec2 && instanceId) {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch((e) => console.error(`cleanup: ${(e as Error).message}`));
      const end = performance.now() + 120_000;
      while (performance.now() < end && (await stateOf(instanceId).catch(() => 'terminated')) !== 'terminated') await sleep(500);
    }
    if (ec2 && imageId) await ec2.send(new DeregisterImageCommand({ ImageId: imageId })).catch((e) => console.error(`cleanup: ${(e as Error).message}`));
    if (ec2 && keyImported) await ec2.send(new DeleteKeyPairCommand({ KeyName: keyName })).catch(() => undefined);
    await server?.close().catch((e) => console.error(`cleanup: closing server: ${(e as Error).message}`));
    await stopCluster().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  })();
  return cleaning;
}
process.on('SIGINT', () => {
  console.error('\ninterrupted: cleaning up');
  void cleanup().finally(() => process.exit(130));
});

let failed = false;
try {
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', keyName, '-f', join(scratch, 'key')]);
  const publicKey = readFileSync(join(scratch, 'key.pub'), 'utf8').trim();

  server = await startTestServer({ COMPUTE_BACKEND: 'libvirt', THECLOUD_RECONCILE_SECONDS: '5' });
  ec2 = sdk(server.url);
  await ec2.send(new ImportKeyPairCommand({ KeyName: keyName, PublicKeyMaterial: Buffer.from(publicKey) }));
  keyImported = true;

  let t0 = performance.now();
  imageId = (await ec2.send(new RegisterImageCommand({ Name: `debian-12-cloud-${randomBytes(3).toString('hex')}`, ImageLocation: DIR }))).ImageId!;
  console.log(`RegisterImage ${DIR} -> ${imageId}: ${sec(performance.now() - t0)} (the root filesystem is copied into the pool once)`);

  const marker = `cloud-image-marker-${randomBytes(4).toString('hex')}`;
  const userData = cloudInitReportScript(marker); // its output goes to the serial console
  t0 = performance.now();
  instanceId = (await ec2.send(new RunInstancesCommand({
    ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: TYPE, KeyName: keyName, UserData: Buffer.from(userData).toString('base64'),
  }))).Instances![0]!.InstanceId!;
  console.log(`RunInstances ${TYPE} -> ${instanceId}`);

  // The launch goes on after RunInstances answers: the domain exists once the instance is running.
  for (let st = await stateOf(instanceId); st !== 'running'; st = await stateOf(instanceId)) {
    if (st !== 'pending' || performance.now() - t0 > WAIT_MS) throw new Error(`instance ${instanceId} is ${st}, not running`);
    await sleep(500);
  }
  console.log(`  running                      ${sec(performance.now() - t0)}`);
  const xml = (await execa('virsh', ['-c', URI, 'dumpxml', instanceId])).stdout;
  if (/device='cdrom'/.test(xml)) throw new Error('the domain has a CD-ROM: a NoCloud seed was attached');
  if (!/<entry name='manufacturer'>Amazon EC2<\/entry>/.test(xml)) throw new Error('the domain does not say "Amazon EC2" in its SMBIOS');
  console.log('domain: no CD-ROM (no seed), SMBIOS manufacturer "Amazon EC2"');

  const seen = new Map<string, number>();
  const milestones: [string, RegExp][] = [
    ['kernel up', /Linux version/],
    ['systemd up', /systemd\[1\]|Welcome to/],
    ['cloud-init local stage', /cloud-init\[\d+\]: Cloud-init v\. [\d.]+ running 'init-local'/],
    ['cloud-init network stage', /cloud-init\[\d+\]: Cloud-init v\. [\d.]+ running 'init'/],
    ['user data ran', new RegExp(`${marker} authorized_keys`)],
  ];
  let text = '';
  for (;;) {
    text = await consoleText(instanceId);
    for (const [label, re] of milestones) if (!seen.has(label) && re.test(text)) seen.set(label, performance.now() - t0);
    if (seen.has('user data ran') && /Cloud-init v\. [\d.]+ finished/.test(text)) break;
    if (performance.now() - t0 > WAIT_MS) throw new Error(`no user data output after ${sec(WAIT_MS)}; console tail:\n${text.slice(-3000)}`);
    await sleep(2000);
  }
  for (const [label] of milestones) console.log(`  ${label.padEnd(28)} ${seen.has(label) ? sec(seen.get(label)!) : '(not seen)'}`);
  const lines = text.split('\n').filter((l) => l.includes(marker)).map((l) => l.replace(/^.*?(cloud-image-marker)/, '$1').trim());
  for (const l of lines) console.log(`  console: ${l}`);
  const datasource = lines.find((l) => l.includes('datasource='))?.split('datasource=')[1] ?? '';
  if (!/^ec2\/metadata \(http:\/\/169\.254\.169\.254\)/.test(datasource)) throw new Error(`cloud-init's datasource is ${JSON.stringify(datasource)}, not EC2's metadata service`);
  if (!lines.some((l) => l.endsWith(`instance=${instanceId}`))) throw new Error('cloud-init does not report the instance id from the metadata service');
  if (!lines.some((l) => l.includes('authorized_keys:') && l.includes(publicKey.split(' ')[1]!))) throw new Error("the key pair's public key is not in the default user's authorized_keys");
  console.log('OK: cloud-init used the EC2 datasource, ran the user data and installed the key pair');
} catch (e) {
  failed = true;
  console.error(`FAILED: ${(e as Error).message}`);
} finally {
  await cleanup();
}
process.exit(failed ? 1 : 0);
