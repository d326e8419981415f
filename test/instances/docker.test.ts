import assert from 'node:assert/strict';
import { existsSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { execa } from 'execa';
import {
  RunInstancesCommand,
  CreateKeyPairCommand,
  DescribeImagesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  GetConsoleOutputCommand,
  DescribeInstancesCommand,
  StartInstancesCommand,
  waitUntilInstanceStopped,
  RegisterImageCommand,
  DeregisterImageCommand,
  DescribeSubnetsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import Docker from 'dockerode';
import { instanceSuite } from './suite.js';
import { needBackend } from '../support/backends.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { useTestServer, type UsedTestServer } from '../support/use-server.js';
import { eventually } from '../support/eventually.js';

const probe = () => new DockerComputeBackend().probe();

instanceSuite({
  backend: 'docker',
  imageName: 'thecloud-busybox',
  runsUserData: true,
  waitSeconds: 60,
  bootLine: 'thecloud-init: instance starting',
  before: (ctx) => needBackend(ctx, 'docker', probe),
});

async function tcpReply(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, timeout: 3000 });
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
  });
}

describe('docker instances a user can reach', function () {
  this.timeout(180_000);
  const t = useTestServer({ env: { COMPUTE_BACKEND: 'docker' }, requires: (ctx) => needBackend(ctx, 'docker', probe) });
  // Directories a test made (its key file); removed with the server.
  const scratch: string[] = [];
  after(() => {
    for (const d of scratch.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('serves TCP on its private IP, accepts SSH with the key pair, runs #cloud-config, and leaves no container behind', async () => {
    const { ec2 } = t;
    const key = await ec2.send(new CreateKeyPairCommand({ KeyName: 'reach', KeyType: 'ed25519' }));
    const dir = mkdtempSync(join(tmpdir(), 'thecloud-ssh-'));
    scratch.push(dir);
    const keyFile = join(dir, 'key.pem');
    writeFileSync(keyFile, key.KeyMaterial! + '\n', { mode: 0o600 });
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const userData = [
      '#cloud-config',
      'write_files:',
      '  - path: /srv/hello.txt',
      '    content: hello from cloud-config',
      'runcmd:',
      '  - [sh, -c, "sh -c \'while true; do nc -l -p 8080 < /srv/hello.txt; done\' >/dev/null 2>&1 &"]',
      '  - echo cloud-config-done',
    ].join('\n');
    const r = await ec2.send(new RunInstancesCommand({
      ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', KeyName: 'reach',
      UserData: Buffer.from(userData).toString('base64'),
    }));
    const inst = r.Instances![0]!;
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [inst.InstanceId!] });

    const c = await new Docker().getContainer(inst.InstanceId!).inspect();
    assert.equal(c.Config.Labels['thecloud.instance-id'], inst.InstanceId);
    assert.equal(c.HostConfig.Memory, 512 * 1024 * 1024, 't3.nano memory is enforced');

    const reply = await eventually('TCP reply from the instance', async () => {
      const t = await tcpReply(inst.PrivateIpAddress!, 8080);
      return t.includes('hello') ? t : undefined;
    });
    assert.equal(reply.trim(), 'hello from cloud-config');

    const who = await eventually('SSH login', async () => {
      const res = await execa('ssh', ['-i', keyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', `ec2-user@${inst.PrivateIpAddress}`, 'id -un'], { reject: false });
      return res.exitCode === 0 ? res.stdout.trim() : undefined;
    });
    assert.equal(who, 'ec2-user');

    const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: inst.InstanceId }));
    assert.match(Buffer.from(out.Output!, 'base64').toString(), /cloud-config-done/);

    // The first-boot files (user data, keys) are a directory of the host, not part of the container's filesystem
    // (so an image captured from it does not carry them); it goes with the instance.
    const boot = (await new Docker().getContainer(inst.InstanceId!).inspect()).Mounts.find((m) => m.Destination === '/.thecloud');
    assert.ok(boot && existsSync(join(boot.Source, inst.InstanceId!, 'user-script')), 'the first-boot files are a host directory');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [inst.InstanceId!] });
    await assert.rejects(new Docker().getContainer(inst.InstanceId!).inspect(), /404|no such container/i);
    assert.equal(existsSync(boot.Source), false, 'the first-boot directory is removed with the instance');
  });
});

describe('docker instances whose container dies', function () {
  this.timeout(120_000);
  const t = useTestServer({ env: { COMPUTE_BACKEND: 'docker', THECLOUD_RECONCILE_SECONDS: '1' }, requires: (ctx) => needBackend(ctx, 'docker', probe) });

  it('are reported stopped, and start again', async () => {
    const { ec2 } = t;
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }))).Instances![0]!.InstanceId!;
    const wait = { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 };
    await waitUntilInstanceRunning(wait, { InstanceIds: [id] });
    await new Docker().getContainer(id).kill();
    await waitUntilInstanceStopped(wait, { InstanceIds: [id] });
    const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    assert.equal(d.Reservations![0]!.Instances![0]!.StateReason?.Code, 'Client.InstanceInitiatedShutdown');
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceRunning(wait, { InstanceIds: [id] });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(wait, { InstanceIds: [id] });
  });
});

describe('docker images registered by the user', function () {
  this.timeout(120_000);
  // The operator allows the project's own images (the default policy allows docker.io/library/* only).
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker', THECLOUD_DOCKER_IMAGES: 'docker.io/thecloud/*' },
    requires: (ctx) => needBackend(ctx, 'docker', probe),
  });

  it('registers a local Docker image as an AMI and launches it; refuses an image that does not exist', async () => {
    const { ec2 } = t;
    const reg = await ec2.send(new RegisterImageCommand({ Name: 'my-busybox', ImageLocation: 'docker:thecloud/busybox:latest', Description: 'mine' }));
    assert.match(reg.ImageId!, /^ami-[0-9a-f]{17}$/);
    const img = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!;
    assert.deepEqual(img.map((i) => [i.ImageId, i.Name, i.State, i.Architecture]), [[reg.ImageId, 'my-busybox', 'available', 'x86_64']]);
    await assert.rejects(ec2.send(new RegisterImageCommand({ Name: 'my-busybox', ImageLocation: 'thecloud/busybox:latest' })), { name: 'InvalidAMIName.Duplicate' });
    await assert.rejects(ec2.send(new RegisterImageCommand({ Name: 'ghost', ImageLocation: 'thecloud/no-such-image:1' })), { name: 'InvalidParameterValue' });
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: reg.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }))).Instances![0]!.InstanceId!;
    const wait = { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 };
    await waitUntilInstanceRunning(wait, { InstanceIds: [id] });
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(wait, { InstanceIds: [id] });
    await ec2.send(new DeregisterImageCommand({ ImageId: reg.ImageId }));
    const still = await new Docker().getImage('thecloud/busybox:latest').inspect();
    assert.ok(still.Id, 'deregistering a registered image leaves the user\'s Docker image alone');
  });
});

/**
 * A Docker-backed server for one describe block; the containers of the instances put in `launched` are
 * removed at the end even when an assertion failed, so that none holds a zone's address range for the tests
 * that follow.
 */
function dockerServerFor(): { t: UsedTestServer; launched: string[] } {
  const launched: string[] = [];
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: (ctx) => needBackend(ctx, 'docker', probe),
    beforeClose: async () => {
      for (const id of launched) await new Docker().getContainer(id).remove({ force: true }).catch(() => undefined);
    },
  });
  return { t, launched };
}

describe('docker instances in two subnets of one VPC', function () {
  this.timeout(180_000);
  const { t, launched } = dockerServerFor();

  // AWS routes every subnet of a VPC to every other (the VPC router's local route), without address
  // translation: the server sees the client's own private IP.
  it('reach each other by private IP across subnets through the VPC router, each seeing the other\'s own address', async () => {
    const { ec2 } = t;
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!
      .sort((a, b) => a.AvailabilityZone!.localeCompare(b.AvailabilityZone!));
    const httpServer = [
      '#!/bin/sh',
      'mkdir -p /www/cgi-bin',
      "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \"$REMOTE_ADDR\"\\n' > /www/cgi-bin/ip",
      'chmod +x /www/cgi-bin/ip',
      'httpd -p 8080 -h /www && echo httpd-up',
    ].join('\n');
    const run = async (subnetId: string, userData?: string) => {
      const r = await ec2.send(new RunInstancesCommand({
        ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId,
        UserData: userData && Buffer.from(userData).toString('base64'),
      }));
      launched.push(r.Instances![0]!.InstanceId!);
      return r.Instances![0]!;
    };
    const a = await run(subnets[0]!.SubnetId!);
    const b = await run(subnets[1]!.SubnetId!, httpServer);
    const wait = { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 };
    await waitUntilInstanceRunning(wait, { InstanceIds: [a.InstanceId!, b.InstanceId!] });
    assert.notEqual(a.SubnetId, b.SubnetId);
    await eventually('the server in the second subnet', async () => {
      const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: b.InstanceId }));
      return Buffer.from(out.Output ?? '', 'base64').toString().includes('httpd-up') || undefined;
    });

    const fetchFromA = async () => {
      // (busybox nc: its wget crashes with -T here.)
      const r = await execa('docker', ['exec', a.InstanceId!, 'sh', '-c', `printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${b.PrivateIpAddress} 8080`], { reject: false });
      // httpd writes an IPv4 peer as [::ffff:a.b.c.d].
      return r.exitCode === 0 && r.stdout.includes('200 OK') ? r.stdout.trim().split('\n').pop()!.trim().replace(/^\[::ffff:(.*)\]$/, '$1') : undefined;
    };
    assert.equal(await eventually('A to reach B', fetchFromA), a.PrivateIpAddress, 'B sees A\'s own address');

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [a.InstanceId!, b.InstanceId!] }));
    await waitUntilInstanceTerminated(wait, { InstanceIds: [a.InstanceId!, b.InstanceId!] });
  });
});

/** The loopback registry scripts/setup-registry.sh runs, holding thecloud/busybox:latest. */
const REGISTRY = process.env.THECLOUD_REGISTRY ?? '127.0.0.1:5000';
const registryProbe = async () => {
  const r = await fetch(`http://${REGISTRY}/v2/thecloud/busybox/manifests/latest`, {
    method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  }).catch((e: Error) => ({ ok: false, status: e.message }));
  return { ok: r.ok, detail: `registry ${REGISTRY}: ${r.status} (run scripts/setup-registry.sh)` };
};

describe('docker images pulled from a registry on first use', function () {
  this.timeout(180_000);
  const ref = `${REGISTRY}/thecloud/busybox:latest`;
  const docker = new Docker();
  const dropLocal = () => docker.getImage(ref).remove().catch((e) => { if (e.statusCode !== 404) throw e; });
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker', THECLOUD_DOCKER_IMAGES: REGISTRY },
    requires: async (ctx) => {
      await needBackend(ctx, 'docker', probe);
      await needBackend(ctx, 'image registry', registryProbe);
    },
  });

  it('RegisterImage pulls an image this host lacks; RunInstances pulls it again after docker rmi; an unknown one is refused', async () => {
    const { ec2 } = t;
    await dropLocal();
    await assert.rejects(docker.getImage(ref).inspect(), /404|no such image/i);
    const reg = await ec2.send(new RegisterImageCommand({ Name: 'from-registry', ImageLocation: `docker:${ref}` }));
    assert.ok((await docker.getImage(ref).inspect()).Id, 'RegisterImage pulled the image');

    await dropLocal();
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: reg.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }))).Instances![0]!.InstanceId!;
    const wait = { client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 };
    try {
      await waitUntilInstanceRunning(wait, { InstanceIds: [id] });
      assert.equal((await docker.getContainer(id).inspect()).Config.Image, ref, 'the container runs the pulled image');
    } finally {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await waitUntilInstanceTerminated(wait, { InstanceIds: [id] });
    }

    await assert.rejects(
      ec2.send(new RegisterImageCommand({ Name: 'not-there', ImageLocation: `docker:${REGISTRY}/thecloud/not-there:1` })),
      (e: Error) => e.name === 'InvalidParameterValue' && /could not be pulled/.test(e.message),
    );
    await ec2.send(new DeregisterImageCommand({ ImageId: reg.ImageId }));
  });
});

describe('docker instances of two accounts in the same zone', function () {
  this.timeout(180_000);
  const { t, launched } = dockerServerFor();

  const launchIn = async (ec2: EC2Client, zone: string) => {
    const subnet = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'availability-zone', Values: [zone] }, { Name: 'default-for-az', Values: ['true'] }] }))).Subnets![0]!;
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const r = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnet.SubnetId }));
    launched.push(r.Instances![0]!.InstanceId!);
    return { id: r.Instances![0]!.InstanceId!, cidr: subnet.CidrBlock! };
  };

  // Both default VPCs are 172.31.0.0/16: on Open vSwitch each VPC is its own segment, so both accounts run at
  // once, even with the same private address.
  it('both run at once with addresses of the same range', async () => {
    const first = t.ec2;
    const second = t.other;
    const wait = (ec2: EC2Client) => ({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 });
    const a = await launchIn(first, 'us-east-1c');
    const b = await launchIn(second, 'us-east-1c');
    assert.equal(b.cidr, a.cidr);
    await waitUntilInstanceRunning(wait(first), { InstanceIds: [a.id] });
    await waitUntilInstanceRunning(wait(second), { InstanceIds: [b.id] });
    const ip = async (ec2: EC2Client, id: string) => (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.PrivateIpAddress!;
    const [ipA, ipB] = [await ip(first, a.id), await ip(second, b.id)];
    // Each container has its ENI's address on eth0 (from its own namespace).
    for (const [id, addr] of [[a.id, ipA], [b.id, ipB]] as const) {
      const r = await execa('docker', ['exec', id, 'ip', '-4', 'addr', 'show', 'eth0'], { reject: false });
      assert.ok(r.stdout.includes(`inet ${addr}/`), r.stdout + r.stderr);
    }
    await first.send(new TerminateInstancesCommand({ InstanceIds: [a.id] }));
    await second.send(new TerminateInstancesCommand({ InstanceIds: [b.id] }));
    await waitUntilInstanceTerminated(wait(first), { InstanceIds: [a.id] });
    await waitUntilInstanceTerminated(wait(second), { InstanceIds: [b.id] });
  });
});
