import assert from 'node:assert/strict';
import { execa } from 'execa';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import {
  AssociateDhcpOptionsCommand,
  AssociateVpcCidrBlockCommand,
  DisassociateVpcCidrBlockCommand,
  DeleteSubnetCommand,
  DescribeVpcsCommand,
  CreateDhcpOptionsCommand,
  CreateVpcCommand,
  CreateSubnetCommand,
  CreateSecurityGroupCommand,
  AuthorizeSecurityGroupIngressCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  ModifyInstanceAttributeCommand,
  ModifyVpcAttributeCommand,
  StopInstancesCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  AssignPrivateIpAddressesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  ModifySecurityGroupRulesCommand,
  UnassignPrivateIpAddressesCommand,
  GetConsoleOutputCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestServer, SECOND_ACCOUNT, type TestServer } from '../support/server.js';
import { sdk } from '../support/clients.js';
import { needBackend } from '../support/backends.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';
import { eventually } from '../support/eventually.js';

/**
 * The VPC API driving the real data plane: VPCs, subnets and groups made with the AWS SDK, Docker instances on
 * Open vSwitch, traffic checked from inside the instances (busybox nc). A negative check is `nc -w 2` getting
 * nothing (a dropped SYN), never a timed assertion.
 */
const LISTENERS = ['#!/bin/sh', `nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &`, `nc -ll -p 81 -e echo web81 >/dev/null 2>&1 &`, 'echo listeners-ready'].join('\n');

describe('VPCs on Open vSwitch through the API, with real traffic', function () {
  this.timeout(240_000);
  let s: TestServer;
  let env: Record<string, string>;
  let upstream: DgramSocket;
  const launched: { ec2: EC2Client; id: string }[] = [];
  /** What the first test made, for the DNS test that follows it (after the restart). */
  let made: { vpcA: string; vpcB: string; web: string; client: string; bOnly: string } | undefined;
  before(async function () {
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    await needBackend(this, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    // An upstream resolver on this machine (the VPC resolver forwards what is not the VPC's own to it).
    upstream = createSocket('udp4');
    upstream.on('message', (msg, from) => {
      const q = dnsPacket.decode(msg);
      const name = q.questions?.[0]?.name ?? '';
      const answers: dnsPacket.Answer[] = name === 'upstream.test' && q.questions?.[0]?.type === 'A' ? [{ type: 'A', name, ttl: 5, data: '198.51.100.7' }] : [];
      upstream.send(dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (answers.length || name === 'upstream.test' ? 0 : 3), questions: q.questions, answers }), from.port, from.address);
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    env = { COMPUTE_BACKEND: 'docker', THECLOUD_DNS_UPSTREAMS: `127.0.0.1:${upstream.address().port}` };
    s = await startTestServer(env);
  });
  after(async () => {
    for (const { ec2, id } of launched) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })).catch(() => undefined);
    for (const { ec2, id } of launched) await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] }).catch(() => undefined);
    await s?.close();
    upstream?.close();
  });

  /** A VPC 10.61.0.0/16 with subnet 10.61.1.0/24 and groups 'web' (nothing inbound yet) and 'client'. */
  async function network(ec2: EC2Client) {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.61.0.0/16' }))).Vpc!.VpcId!;
    const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.61.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const web = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'web', Description: 'web' }))).GroupId!;
    const client = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'client', Description: 'client' }))).GroupId!;
    return { vpcId, subnetId, web, client };
  }

  async function launch(ec2: EC2Client, subnetId: string, groups: string[], ip: string) {
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const r = await ec2.send(new RunInstancesCommand({
      ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, SecurityGroupIds: groups,
      PrivateIpAddress: ip, UserData: Buffer.from(LISTENERS).toString('base64'),
    }));
    const id = r.Instances![0]!.InstanceId!;
    launched.push({ ec2, id });
    return id;
  }

  async function ready(ec2: EC2Client, ids: string[]) {
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: ids });
    for (const id of ids) {
      await eventually(`listeners of ${id}`, async () => {
        const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
        return Buffer.from(out.Output ?? '', 'base64').toString().split('listeners-ready').length - 1 > 0 || undefined;
      });
    }
  }

  /** What `nc` from inside `from` gets from ip:port ('' when nothing answers within 2 s). */
  async function fetch(from: string, ip: string, port: number): Promise<string> {
    const r = await execa('docker', ['exec', from, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null`], { reject: false });
    return r.stdout.trim();
  }

  async function ping(from: string, ip: string): Promise<boolean> {
    return (await execa('docker', ['exec', from, 'ping', '-c', '1', '-W', '2', ip], { reject: false })).exitCode === 0;
  }

  it('enforces the groups as authorized and revoked, isolates two accounts\' VPCs with the same CIDR, keeps the IP across stop/start and reboot, and is rebuilt from the records after a restart', async () => {
    const a = sdk(s.url);
    const b = sdk(s.url, SECOND_ACCOUNT);
    const na = await network(a);
    const nb = await network(b);

    const web = await launch(a, na.subnetId, [na.web], '10.61.1.10');
    const client = await launch(a, na.subnetId, [na.client], '10.61.1.11');
    // Account B: the same addresses in its own VPC, its web open to all.
    await b.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: nb.web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 81, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    const bWeb = await launch(b, nb.subnetId, [nb.web], '10.61.1.10');
    const bOnly = await launch(b, nb.subnetId, [nb.web], '10.61.1.20');
    await ready(a, [web, client]);
    await ready(b, [bWeb, bOnly]);
    made = { vpcA: na.vpcId, vpcB: nb.vpcId, web, client, bOnly };

    // Nothing is admitted inbound by 'web' yet.
    assert.equal(await fetch(client, '10.61.1.10', 80), '', 'no rule: the SYN is dropped');
    // Port 80 from members of 'client' only.
    await a.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: na.web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: na.client }] }] }));
    assert.equal(await fetch(client, '10.61.1.10', 80), 'web80', 'the rule admits port 80 (and its return traffic)');
    assert.equal(await fetch(client, '10.61.1.10', 81), '', 'and no other port');
    // Source-group rules follow membership, changed live.
    await a.send(new ModifyInstanceAttributeCommand({ InstanceId: client, Groups: [na.web] }));
    assert.equal(await fetch(client, '10.61.1.10', 80), '', 'the client left the group the rule names');
    await a.send(new ModifyInstanceAttributeCommand({ InstanceId: client, Groups: [na.client] }));
    assert.equal(await fetch(client, '10.61.1.10', 80), 'web80', 'and is admitted again once back in it');
    // B's instances are another network: same address, but A's client reaches A's web; B's own address is absent.
    assert.equal(await fetch(client, '10.61.1.20', 80), '', 'no packet crosses into the other account\'s VPC');
    assert.equal(await fetch(bOnly, '10.61.1.11', 80), '', 'nor back');
    assert.equal(await fetch(bOnly, '10.61.1.10', 81), 'web81', 'B\'s VPC works on its own');

    await a.send(new RevokeSecurityGroupIngressCommand({ GroupId: na.web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, UserIdGroupPairs: [{ GroupId: na.client }] }] }));
    assert.equal(await fetch(client, '10.61.1.10', 80), '', 'revoking closes it again');
    await a.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: na.web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 81, IpRanges: [{ CidrIp: '10.61.1.11/32' }] }] }));
    assert.equal(await fetch(client, '10.61.1.10', 81), 'web81', 'a CIDR rule with a port range');

    // Stop and start: the same address, plugged again into the new network namespace (user data ran once, so
    // ICMP shows it: the gateway pings from inside, and the client pings it).
    await a.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: na.web, IpPermissions: [{ IpProtocol: 'icmp', FromPort: -1, ToPort: -1, UserIdGroupPairs: [{ GroupId: na.client }] }] }));
    assert.equal(await ping(client, '10.61.1.10'), true, 'an ICMP rule admits ping');
    await a.send(new StopInstancesCommand({ InstanceIds: [web] }));
    await waitUntilInstanceStopped({ client: a, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [web] });
    assert.equal(await fetch(client, '10.61.1.10', 80), '', 'a stopped instance answers nothing');
    await a.send(new StartInstancesCommand({ InstanceIds: [web] }));
    await waitUntilInstanceRunning({ client: a, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [web] });
    const again = (await a.send(new DescribeInstancesCommand({ InstanceIds: [web] }))).Reservations![0]!.Instances![0]!;
    assert.equal(again.PrivateIpAddress, '10.61.1.10');
    assert.equal(await eventually('web after its restart', async () => (await ping(client, '10.61.1.10')) || undefined), true);
    assert.equal(await ping(web, '10.61.1.1'), true, 'the VPC router answers at the gateway');
    // A reboot restarts the container (a new namespace): plugged again.
    const boots = async () => Buffer.from((await a.send(new GetConsoleOutputCommand({ InstanceId: web }))).Output ?? '', 'base64').toString().split('instance starting').length;
    const before = await boots();
    await a.send(new RebootInstancesCommand({ InstanceIds: [web] }));
    await eventually('the reboot', async () => ((await boots()) > before ? true : undefined));
    assert.equal(await eventually('web after its reboot', async () => (await ping(client, '10.61.1.10')) || undefined), true);

    // A server restart after the switch lost everything (the test server's close removes this installation's
    // switch objects, as a host reboot would): the start-up sync rebuilds it from the records alone.
    const dbUrl = s.databaseUrl;
    await s.close();
    assert.equal(await ping(client, '10.61.1.10'), false, 'the switch is empty');
    s = await startTestServer(env, dbUrl);
    for (const l of launched) l.ec2 = sdk(s.url, l.ec2 === b ? SECOND_ACCOUNT : undefined);
    assert.equal(await ping(client, '10.61.1.10'), true, 'rebuilt: same VPC, ports and groups');
    assert.equal(await fetch(client, '10.61.1.10', 81), '', 'a port the groups never opened stays shut');
    assert.equal(await fetch(bOnly, '10.61.1.10', 81), 'web81', 'the other account\'s VPC is back too');
  });

  it('answers the VPC\'s private names at its resolver (base + 2 and 169.254.169.253) inside instances, per VPC, and not with enableDnsSupport off', async () => {
    assert.ok(made, 'the instances of the test before');
    const a = sdk(s.url);
    const { vpcA, client, bOnly } = made;
    /** busybox nslookup from inside `from`: the addresses it printed after the server's own lines, or null when it failed. */
    const lookup = async (from: string, name: string, server?: string): Promise<string[] | null> => {
      const r = await execa('docker', ['exec', from, 'nslookup', name, ...(server ? [server] : [])], { reject: false, timeout: 30_000 });
      if (r.exitCode !== 0) return null;
      const answer = r.stdout.split(/Name:\s/).slice(1).join('\n');
      return [...answer.matchAll(/Address(?: \d+)?:\s+(\S+)/g)].map((m) => m[1]!);
    };
    const resolvConf = (await execa('docker', ['exec', client, 'cat', '/etc/resolv.conf'])).stdout;
    assert.match(resolvConf, /^nameserver 10\.61\.0\.2$/m, 'the guest is told its VPC\'s resolver');
    assert.match(resolvConf, /^search ec2\.internal$/m);
    assert.deepEqual(await lookup(client, 'ip-10-61-1-10.ec2.internal'), ['10.61.1.10'], 'a private name of the VPC resolves');
    assert.deepEqual(await lookup(client, 'IP-10-61-1-11.EC2.INTERNAL', '169.254.169.253'), ['10.61.1.11'], 'also at the link-local resolver, in any case');
    assert.equal(await lookup(client, 'ip-10-61-1-99.ec2.internal'), null, 'an address no ENI holds: NXDOMAIN');
    assert.equal(await lookup(bOnly, 'ip-10-61-1-11.ec2.internal'), null, 'the other account\'s VPC does not know A\'s instance');
    assert.deepEqual(await lookup(bOnly, 'ip-10-61-1-20.ec2.internal'), ['10.61.1.20'], 'but its own');
    await a.send(new ModifyVpcAttributeCommand({ VpcId: vpcA, EnableDnsSupport: { Value: false } }));
    assert.equal(await lookup(client, 'ip-10-61-1-10.ec2.internal'), null, 'enableDnsSupport off: no answer');
    await a.send(new ModifyVpcAttributeCommand({ VpcId: vpcA, EnableDnsSupport: { Value: true } }));
    assert.deepEqual(await lookup(client, 'ip-10-61-1-10.ec2.internal'), ['10.61.1.10'], 'and on again');
    assert.deepEqual(await lookup(client, 'upstream.test'), ['198.51.100.7'], 'other names are forwarded to the operator\'s upstream');
  });

  it('answers DHCP from inside instances with the ENI\'s own address, router and the VPC\'s options, per VPC', async () => {
    assert.ok(made, 'the instances of the test before');
    const b = sdk(s.url, SECOND_ACCOUNT);
    const { vpcB, client, bOnly } = made;
    // B's VPC gets its own options set: its servers (AmazonProvidedDNS is the VPC's resolver) and domain.
    const set = (await b.send(new CreateDhcpOptionsCommand({ DhcpConfigurations: [
      { Key: 'domain-name', Values: ['corp.example'] },
      { Key: 'domain-name-servers', Values: ['198.51.100.53', 'AmazonProvidedDNS'] },
      { Key: 'ntp-servers', Values: ['198.51.100.123'] },
    ] }))).DhcpOptions!.DhcpOptionsId!;
    await b.send(new AssociateDhcpOptionsCommand({ VpcId: vpcB, DhcpOptionsId: set }));
    /** busybox udhcpc in `from` (one lease, then quits): what its script saw when bound, or the failure. */
    const lease = async (from: string) => {
      const script = '[ "$1" = bound ] && echo "ip=$ip subnet=$subnet router=$router dns=$dns domain=$domain hostname=$hostname ntp=$ntpsrv lease=$lease"; exit 0';
      const r = await execa('docker', ['exec', from, 'sh', '-c', `printf '%s\\n' '#!/bin/sh' '${script}' >/tmp/dhcp.sh && chmod +x /tmp/dhcp.sh && udhcpc -i eth0 -n -q -f -t 5 -T 2 -s /tmp/dhcp.sh`], { reject: false, timeout: 60_000 });
      return r.stdout.split('\n').find((l) => l.startsWith('ip=')) ?? `no lease: ${r.stdout} ${r.stderr}`;
    };
    assert.equal(
      await lease(client),
      'ip=10.61.1.11 subnet=255.255.255.0 router=10.61.1.1 dns=10.61.0.2 domain=ec2.internal hostname=ip-10-61-1-11 ntp= lease=31536000',
      'A\'s instance: its own address, the subnet\'s router, the VPC resolver (the default set)',
    );
    assert.equal(
      await lease(bOnly),
      'ip=10.61.1.20 subnet=255.255.255.0 router=10.61.1.1 dns=198.51.100.53 10.61.0.2 domain=corp.example hostname=ip-10-61-1-20 ntp=198.51.100.123 lease=31536000',
      'B\'s instance (the same CIDR, another VPC): its own address and its VPC\'s options set',
    );
  });

  it('gives a running container a secondary address that a peer reaches as the groups allow, shown by metadata, and takes it away again; ModifySecurityGroupRules reaches its port', async () => {
    assert.ok(made, 'the instances of the first test');
    const a = sdk(s.url);
    const { web, client } = made;
    const eniId = (await a.send(new DescribeInstancesCommand({ InstanceIds: [web] }))).Reservations![0]!.Instances![0]!.NetworkInterfaces![0]!.NetworkInterfaceId!;
    const onEth0 = async () => (await execa('docker', ['exec', web, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
    // web's groups admit ICMP from members of 'client' (the first test's rule; its TCP listeners ran once, before
    // its restarts). An address nobody was given gets no answer (and no ARP reply through the switch).
    assert.equal(await ping(client, '10.61.1.31'), false, 'an address no ENI holds answers nothing');
    await a.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: ['10.61.1.30'] }));
    assert.match(await onEth0(), /inet 10\.61\.1\.30\/24/, 'the container\'s interface carries it at once');
    assert.equal(await ping(client, '10.61.1.30'), true, 'the switch admits the secondary address (ARP and IP) and the group rule applies to it');
    const base = 'http://169.254.169.254/latest/meta-data';
    const md = await execa('docker', ['exec', web, 'sh', '-c', `wget -qO- ${base}/network/interfaces/macs/$(wget -qO- ${base}/mac)/local-ipv4s`], { reject: false });
    assert.deepEqual(md.stdout.trim().split('\n'), ['10.61.1.10', '10.61.1.30'], 'metadata local-ipv4s lists both');
    await a.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, PrivateIpAddresses: ['10.61.1.30'] }));
    assert.doesNotMatch(await onEth0(), /10\.61\.1\.30/, 'unassigned: gone from the interface');
    assert.match(await onEth0(), /inet 10\.61\.1\.10\/24/, 'and the primary address stays');
    assert.equal(await ping(client, '10.61.1.30'), false, 'nothing answers there any more');
    assert.equal(await ping(client, '10.61.1.10'), true, 'while the primary address still does');

    // ModifySecurityGroupRules reaches the running port: the ICMP rule moved to a source that is not the client
    // shuts ping, and moved back opens it.
    const webGroup = (await a.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [made.vpcA] }, { Name: 'group-name', Values: ['web'] }] }))).SecurityGroups![0]!;
    const clientGroup = (await a.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [made.vpcA] }, { Name: 'group-name', Values: ['client'] }] }))).SecurityGroups![0]!;
    const icmp = (await a.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [webGroup.GroupId!] }] }))).SecurityGroupRules!.find((r) => r.IpProtocol === 'icmp')!;
    const modify = (rule: { CidrIpv4?: string; ReferencedGroupId?: string }) =>
      a.send(new ModifySecurityGroupRulesCommand({ GroupId: webGroup.GroupId!, SecurityGroupRules: [{ SecurityGroupRuleId: icmp.SecurityGroupRuleId!, SecurityGroupRule: { IpProtocol: 'icmp', FromPort: -1, ToPort: -1, ...rule } }] }));
    await modify({ CidrIpv4: '10.61.2.0/24' });
    assert.equal(await ping(client, '10.61.1.10'), false, 'the modified rule no longer admits the client');
    await modify({ ReferencedGroupId: clientGroup.GroupId! });
    assert.equal(await ping(client, '10.61.1.10'), true, 'and admits it again once modified back');
  });

  it('moves a secondary address to another instance (AllowReassignment): reached there at once, though the sender\'s ARP cache still names the old holder', async () => {
    assert.ok(made, 'the instances of the first test');
    const a = sdk(s.url);
    const { web, client, vpcA } = made;
    const eniOf = async (id: string) => (await a.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.NetworkInterfaces![0]!;
    const webEni = await eniOf(web);
    // A third instance in 'web' (which admits ICMP from 'client'), in web's subnet.
    const webGroup = (await a.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcA] }, { Name: 'group-name', Values: ['web'] }] }))).SecurityGroups![0]!.GroupId!;
    const third = await launch(a, webEni.SubnetId!, [webGroup], '10.61.1.13');
    await ready(a, [third]);
    const thirdEni = await eniOf(third);
    const addrs = async (id: string) => (await execa('docker', ['exec', id, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
    const neighbour = async () => (await execa('docker', ['exec', client, 'ip', 'neigh', 'show', '10.61.1.40'])).stdout;

    await a.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: webEni.NetworkInterfaceId!, PrivateIpAddresses: ['10.61.1.40'] }));
    assert.equal(await ping(client, '10.61.1.40'), true, 'web answers at its secondary address');
    assert.match(await neighbour(), new RegExp(`lladdr ${webEni.MacAddress}`), 'the client learnt web\'s MAC for it');

    await a.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: thirdEni.NetworkInterfaceId!, PrivateIpAddresses: ['10.61.1.40'], AllowReassignment: true }));
    assert.doesNotMatch(await addrs(web), /10\.61\.1\.40/, 'gone from the old holder\'s interface');
    assert.match(await addrs(third), /inet 10\.61\.1\.40\/24/, 'on the new holder\'s');
    assert.match(await neighbour(), new RegExp(`lladdr ${webEni.MacAddress}`), 'the client\'s ARP cache still says web (nothing told it)');
    // Only the new holder has the address, so an answer is its answer: the switch delivered by address.
    assert.equal(await ping(client, '10.61.1.40'), true, 'reached at the new holder at once');
    const described = (await eniOf(third)).PrivateIpAddresses!.map((p) => p.PrivateIpAddress);
    assert.deepEqual(described, ['10.61.1.13', '10.61.1.40']);
    assert.deepEqual((await eniOf(web)).PrivateIpAddresses!.map((p) => p.PrivateIpAddress), ['10.61.1.10']);
  });

  it('routes between a subnet of a secondary CIDR block and the primary block\'s subnets, and the host follows the default VPC\'s blocks', async () => {
    assert.ok(made, 'the instances of the first test');
    const a = sdk(s.url);
    const { web, client, vpcA } = made;
    // 10.62.0.0/16 beside 10.61.0.0/16; an instance in a subnet of it, in group 'client' (which web admits ICMP from).
    const assoc = (await a.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcA, CidrBlock: '10.62.0.0/16' }))).CidrBlockAssociation!;
    const subnetId = (await a.send(new CreateSubnetCommand({ VpcId: vpcA, CidrBlock: '10.62.7.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const clientGroup = (await a.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcA] }, { Name: 'group-name', Values: ['client'] }] }))).SecurityGroups![0]!.GroupId!;
    const far = await launch(a, subnetId, [clientGroup], '10.62.7.10');
    await ready(a, [far]);
    assert.equal(await ping(far, '10.61.1.10'), true, 'secondary block -> primary block, and the reply back, through the VPC router');
    // And a connection the other way, opened by a rule for the primary subnet's range.
    await a.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: clientGroup, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.61.1.0/24' }] }] }));
    assert.equal(await fetch(client, '10.62.7.10', 80), 'web80', 'primary block -> secondary block');
    assert.equal(await fetch(web, '10.62.7.10', 81), '', 'port 81 stays shut');
    await a.send(new RevokeSecurityGroupIngressCommand({ GroupId: clientGroup, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.61.1.0/24' }] }] }));

    // Once the instance and its subnet are gone, the block can go.
    await a.send(new TerminateInstancesCommand({ InstanceIds: [far] }));
    await waitUntilInstanceTerminated({ client: a, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [far] });
    await a.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
    const gone = await a.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assoc.AssociationId }));
    assert.equal(gone.CidrBlockAssociation!.CidrBlockState!.State, 'disassociating');

    // The host reaches the default VPC (THECLOUD_HOST_VPCS) by a route per block of it: a new block gets one, and
    // loses it with the block.
    const defaultVpc = (await a.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!.VpcId!;
    const hostRoute = async () => (await execa('ip', ['route', 'show', '203.0.113.0/24'])).stdout.trim();
    assert.equal(await hostRoute(), '', 'no host route before');
    const d = (await a.send(new AssociateVpcCidrBlockCommand({ VpcId: defaultVpc, CidrBlock: '203.0.113.0/24' }))).CidrBlockAssociation!;
    try {
      assert.match(await hostRoute(), /^203\.0\.113\.0\/24 via 169\.254\.252\.\d+ dev /, 'the host routes the new block into the VPC');
    } finally {
      await a.send(new DisassociateVpcCidrBlockCommand({ AssociationId: d.AssociationId }));
    }
    assert.equal(await hostRoute(), '', 'and forgets it with the block');
  });
});

