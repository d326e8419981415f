import { instanceSuite } from './suite.js';
import { needBackend } from '../support/backends.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { execa } from 'execa';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  GetConsoleScreenshotCommand,
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  ModifyInstanceAttributeCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { makeInternet, INTERNET_CIDR, INTERNET_IP, type Internet } from '../support/internet.js';
// The same suite as for Docker, served by full VMs under QEMU (TCG here: boots take seconds, not milliseconds).
instanceSuite({
  backend: 'libvirt',
  imageName: 'thecloud-tiny-vm',
  runsUserData: true,
  waitSeconds: 120,
  bootLine: 'thecloud: boot number',
  before: (ctx) => needBackend(ctx, 'libvirt', () => new LibvirtComputeBackend().probe()),
});


async function consoleAddress(url: string, instanceId: string): Promise<{ vnc: string | null }> {
  const u = new URL(url);
  const signer = new SignatureV4({ service: 'ec2', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, sha256: Sha256 });
  const req = await signer.sign({ method: 'GET', protocol: 'http:', hostname: u.hostname, port: Number(u.port), path: '/thecloud/v1/instance-console', query: { InstanceId: instanceId }, headers: { host: u.host } });
  const res = await fetch(`${url}/thecloud/v1/instance-console?InstanceId=${instanceId}`, { headers: req.headers as Record<string, string> });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as { vnc: string | null };
}

async function rfbBanner(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 5000 });
    s.once('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

describe('libvirt instances: consoles, resizing and guest power-off through the API', function () {
  this.timeout(600_000);
  let imageId: string;
  let internet: Internet | undefined;
  const wait = { maxWaitTime: 180, minDelay: 1, maxDelay: 2 };
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'libvirt', THECLOUD_RECONCILE_SECONDS: '1' },
    requires: (ctx) => needBackend(ctx, 'libvirt', () => new LibvirtComputeBackend().probe()),
  });
  before(async () => {
    imageId = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images![0]!.ImageId!;
  });
  after(async () => internet?.close());

  it('exposes a VNC console, a PNG screenshot, and applies a new instance type to the domain', async () => {
    const r = await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't2.micro' }));
    const id = r.Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });

    const { vnc } = await consoleAddress(t.url, id);
    const m = /^vnc:\/\/([\d.]+):(\d+)$/.exec(vnc ?? '');
    assert.ok(m, `a VNC address: ${vnc}`);
    assert.match(await rfbBanner(m[1]!, Number(m[2])), /^RFB \d{3}\.\d{3}/);

    const shot = await t.ec2.send(new GetConsoleScreenshotCommand({ InstanceId: id }));
    const png = Buffer.from(shot.ImageData!, 'base64');
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    assert.ok(png.readUInt32BE(16) > 0 && png.readUInt32BE(20) > 0, 'with a width and a height');

    await t.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceStopped({ client: t.ec2, ...wait }, { InstanceIds: [id] });
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } }));
    const xml = (await execa('virsh', ['-c', 'qemu:///system', 'dumpxml', '--inactive', id])).stdout;
    assert.match(xml, /<vcpu[^>]*>2<\/vcpu>/, 't3.small has 2 vCPUs');
    assert.match(xml, /<memory unit='KiB'>2097152<\/memory>/, 't3.small has 2 GiB');
    await t.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: [id] });
    const left = (await execa('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'])).stdout;
    assert.ok(!left.includes(id), 'the domain is gone after terminate');
  });

  it('reports a guest that powers itself off as stopped, with the instance-initiated reason', async () => {
    const userData = Buffer.from('#!/bin/sh\n(sleep 3; poweroff -f) &\n').toString('base64');
    const r = await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't2.micro', UserData: userData }));
    const id = r.Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });
    await waitUntilInstanceStopped({ client: t.ec2, ...wait }, { InstanceIds: [id] });
    const d = await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    assert.equal(d.Reservations![0]!.Instances![0]!.StateReason?.Code, 'Client.InstanceInitiatedShutdown');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: [id] });
  });

  // The VM's ENI is an OVS port on its VPC's bridge; the host reaches the default VPC through its link (the
  // README's promise), as it reaches containers. Its resolver is the VPC's (172.31.0.2), which knows its name.
  // The default VPC's subnets map public addresses and its main table sends 0.0.0.0/0 to its internet gateway:
  // the same VM reaches "the internet" (a namespace, test/support/internet.ts) as its public address, and the
  // internet reaches it by that address only once its group admits the internet's addresses.
  it('is reachable from the host on its VPC address, resolves its own private name, and meets the internet by its public IP as its group allows', async () => {
    internet = await makeInternet();
    internet.echoSource(9000);
    const answer = `#!/bin/sh\necho vm7000\nnslookup "$(hostname).ec2.internal" 2>&1\necho "seen-as $(nc -w 2 ${INTERNET_IP} 9000 </dev/null)"\n`;
    const userData = Buffer.from(`#!/bin/sh\nprintf '%s' '${answer}' >/tmp/answer.sh\nnc -ll -p 7000 -e /bin/sh /tmp/answer.sh >/dev/null 2>&1 &\n`).toString('base64');
    const r = await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't2.micro', UserData: userData }));
    const inst = r.Instances![0]!;
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [inst.InstanceId!] });
    const end = Date.now() + 120_000;
    let reply = '';
    while (Date.now() < end && !reply.includes('vm7000')) {
      reply = await tcpReply(inst.PrivateIpAddress!, 7000).catch(() => '');
      if (!reply) await new Promise((res) => setTimeout(res, 1000));
    }
    assert.equal(reply.split('\n')[0], 'vm7000', reply);
    const ip = inst.PrivateIpAddress!;
    assert.match(reply, new RegExp(`Server:\\s+172\\.31\\.0\\.2\\b`), 'the guest asks its VPC\'s resolver');
    assert.match(reply, new RegExp(`Name:\\s+ip-${ip.replace(/\./g, '-')}\\.ec2\\.internal\\s+Address:\\s+${ip.replace(/\./g, '\\.')}\\b`), reply);

    const described = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.Instances![0]!;
    const publicIp = described.PublicIpAddress!;
    assert.match(publicIp ?? '', /^198\.1[89]\./, 'a default-VPC instance has a pool address');
    for (let i = 0; i < 20 && !reply.includes(`seen-as ${publicIp}`); i++) reply = await tcpReply(ip, 7000).catch(() => '');
    assert.match(reply, new RegExp(`^seen-as ${publicIp.replace(/\./g, '\\.')}$`, 'm'), `the internet sees the VM come from its public address: ${reply}`);

    assert.equal(await internet.fetch(publicIp, 7000), '', 'the default group admits nothing from the internet');
    const group = described.SecurityGroups![0]!.GroupId!;
    assert.equal((await t.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group] }))).SecurityGroups![0]!.GroupName, 'default');
    const rule = { GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 7000, ToPort: 7000, IpRanges: [{ CidrIp: INTERNET_CIDR }] }] };
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand(rule));
    let fromOutside = '';
    for (let i = 0; i < 20 && !fromOutside.startsWith('vm7000'); i++) fromOutside = await internet.fetch(publicIp, 7000);
    assert.equal(fromOutside.split('\n')[0], 'vm7000', 'a rule for the internet\'s addresses admits it by its public IP');
    assert.equal(await internet.fetch(publicIp, 7001), '', 'and only the port it names');
    await t.ec2.send(new RevokeSecurityGroupIngressCommand(rule));
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: [inst.InstanceId!] });
  });
});

function tcpReply(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port, timeout: 3000 });
    let data = '';
    sock.on('data', (d) => (data += d.toString()));
    sock.on('end', () => resolve(data));
    sock.on('timeout', () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
  });
}
