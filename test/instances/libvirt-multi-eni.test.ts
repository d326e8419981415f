import assert from 'node:assert/strict';
import { execa } from 'execa';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DetachNetworkInterfaceCommand,
  GetConsoleOutputCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { securityGroup } from '../support/vpc.js';
import { needBackend } from '../support/backends.js';
import { eventually } from '../support/eventually.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';

/**
 * A libvirt VM with several ENIs on the real data plane: one virtio NIC per ENI in device index order, each its
 * own OVS port with its ENI's MAC and groups; a third one hot-plugged into the running VM and unplugged again;
 * every port plugged again by a server restart over an emptied switch. The peers are Docker containers, each
 * plugged into one subnet as an ENI of its own by the server's network backend (a server runs one compute
 * backend, so they are not instances). The guest configures its second and third NICs itself, by DHCP from the
 * VPC router (as an EC2 guest does); its first one from its seed. A negative probe is `nc -w 2` getting nothing.
 */
const USER_DATA = `#!/bin/sh
nc -ll -p 7000 -e echo vm7000 >/dev/null 2>&1 &
nc -ll -p 7001 -e echo vm7001 >/dev/null 2>&1 &
# As ec2-net-utils does on EC2: what is sent from a secondary interface's address leaves by that interface
# (a table per interface: 100 + N, busybox takes no higher), so that an answer to another subnet goes back the
# way its question came.
printf '#!/bin/sh\\n[ "$1" = bound ] || exit 0\\nip addr add "$ip/$mask" dev "$interface"\\nt=$((100 + \${interface#eth}))\\nip rule add from "$ip" table $t\\nip route add default via "$router" dev "$interface" table $t\\n' >/tmp/dhcp.sh
chmod +x /tmp/dhcp.sh
nic() {
  while [ ! -e /sys/class/net/$1 ]; do sleep 1; done
  ip link set $1 up
  udhcpc -i $1 -n -q -t 60 -T 1 -s /tmp/dhcp.sh >/dev/null 2>&1
  echo "nic-up $1 $(cat /sys/class/net/$1/address) $(ip -4 -o addr show $1 | awk '{print $4}')"
}
# eth0 too (its address and gateway are the test's): else an answer from it to subnet B would leave by eth1,
# on-link there, from an address eth1's port does not own, and be dropped as on AWS.
ip rule add from 10.64.1.10 table 100
ip route add default via 10.64.1.1 dev eth0 table 100
nic eth1
# (busybox-static's wget segfaults in this image: HTTP/1.0 through nc, which must not see the end of its input
# before the answer, the body after the blank line)
imds() { (printf 'GET /latest/meta-data/network/interfaces/macs/%s HTTP/1.0\r\nHost: 169.254.169.254\r\n\r\n' "$1"; sleep 2) | nc -w 3 169.254.169.254 80 | awk 'b{print} /^\r?$/{b=1}' | tr '\n' ' '; }
mac1=$(cat /sys/class/net/eth1/address)
(echo "imds-macs $(imds)"; echo "imds-eth1 $(imds $mac1/device-number) $(imds $mac1/local-ipv4s)") &
(nic eth2) &
echo listeners-ready
`;

describe('a libvirt VM with several network interfaces on Open vSwitch, with real traffic', function () {
  this.timeout(300_000);
  const wait = { maxWaitTime: 180, minDelay: 1, maxDelay: 2 };
  const launched: string[] = [];
  const clients: { name: string; eniId: string }[] = [];
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'libvirt' },
    requires: async (ctx) => {
      await needBackend(ctx, 'libvirt', () => new LibvirtComputeBackend().probe());
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
      await needBackend(ctx, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    },
    beforeClose: async ({ ec2 }) => {
      for (const c of clients) await execa('docker', ['rm', '-f', c.name], { reject: false });
      if (!launched.length) return;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: launched })).catch(() => undefined);
      await waitUntilInstanceTerminated({ client: ec2, ...wait }, { InstanceIds: launched }).catch(() => undefined);
    },
  });

  /** A busybox container with no network, plugged into the subnet as a new ENI with `groups`. */
  async function client(subnetId: string, groups: string[], ip: string): Promise<string> {
    const eniId = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Groups: groups, PrivateIpAddress: ip }))).NetworkInterface!.NetworkInterfaceId!;
    const name = `thecloud-test-vmeni-${eniId}`;
    await execa('docker', ['run', '-d', '--network', 'none', '--name', name, 'thecloud/busybox:latest', 'sleep', '3600']);
    clients.push({ name, eniId });
    await plugClient({ name, eniId });
    return name;
  }
  async function plugClient(c: { name: string; eniId: string }): Promise<void> {
    const pid = Number((await execa('docker', ['inspect', '-f', '{{.State.Pid}}', c.name])).stdout.trim());
    const network = t.s.services.network;
    const eni = (await network.enis.get(c.eniId))!;
    await network.plug(await network.port(eni), { kind: 'netns', pid });
    await network.applySecurity([eni.vpc_id]);
  }
  /** What `nc` from inside the container gets from ip:port ('' when nothing answers within 2 s). */
  async function fetch(from: string, ip: string, port: number): Promise<string> {
    return (await execa('docker', ['exec', from, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null`], { reject: false })).stdout.trim();
  }
  const consoleOf = async (id: string) => Buffer.from((await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output ?? '', 'base64').toString();
  /** The first console line of the VM with `tag`, from the tag on, once it is there. */
  const consoleLine = (id: string, tag: string) =>
    eventually(`"${tag}" on the console of ${id}`, async () => {
      const line = (await consoleOf(id)).split('\n').find((l) => l.includes(tag));
      return line?.slice(line.indexOf(tag)).trim();
    }, 120_000);
  const nicLine = (id: string, dev: string) => consoleLine(id, `nic-up ${dev} `);
  const domainMacs = async (id: string) => (await execa('virsh', ['-c', 'qemu:///system', 'domiflist', id])).stdout;

  it('gives the VM one NIC per ENI, each reached only as its own groups allow; hot-plugs a third; a restart plugs them all again; one attached while stopped is there at the next start', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.64.0.0/16' }))).Vpc!.VpcId!;
    const subnet = async (cidr: string) => (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const subnetA = await subnet('10.64.1.0/24');
    const subnetB = await subnet('10.64.2.0/24');
    const subnetC = await subnet('10.64.3.0/24');
    const group = (name: string, port?: number) => securityGroup(t.ec2, vpcId, name, port ? { port, from: '10.64.0.0/16' } : undefined);
    const only7000 = await group('only7000', 7000);
    const only7001 = await group('only7001', 7001);
    const plain = await group('plain');
    const imageId = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images![0]!.ImageId!;
    const r = await t.ec2.send(new RunInstancesCommand({
      ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', UserData: Buffer.from(USER_DATA).toString('base64'),
      NetworkInterfaces: [
        { DeviceIndex: 0, SubnetId: subnetA, Groups: [only7000], PrivateIpAddress: '10.64.1.10' },
        { DeviceIndex: 1, SubnetId: subnetB, Groups: [only7001], PrivateIpAddress: '10.64.2.10' },
      ],
    }));
    const vm = r.Instances![0]!.InstanceId!;
    launched.push(vm);
    const [mac0, mac1] = [0, 1].map((i) => r.Instances![0]!.NetworkInterfaces!.find((n) => n.Attachment!.DeviceIndex === i)!.MacAddress!);
    const clientA = await client(subnetA, [plain], '10.64.1.20');
    const clientB = await client(subnetB, [plain], '10.64.2.20');
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [vm] });

    // Two virtio NICs in device index order, each with its ENI's MAC; the guest's eth1 got its ENI's address by DHCP.
    const macs = [...(await domainMacs(vm)).matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/g)].map((m) => m[1]);
    assert.deepEqual(macs, [mac0, mac1]);
    assert.equal(await nicLine(vm, 'eth1'), `nic-up eth1 ${mac1} 10.64.2.10/24`);

    // Each address answers as its own interface's group allows.
    assert.equal(await eventually('eth0 answers', async () => (await fetch(clientA, '10.64.1.10', 7000)) || undefined, 60_000), 'vm7000', 'eth0 admits 7000 (its group)');
    assert.equal(await fetch(clientA, '10.64.1.10', 7001), '', 'eth0 does not admit 7001');
    assert.equal(await fetch(clientB, '10.64.2.10', 7001), 'vm7001', 'eth1 admits 7001 (its group)');
    assert.equal(await fetch(clientB, '10.64.2.10', 7000), '', 'eth1 does not admit 7000');
    // Across subnets, through the VPC router: to the second interface (the guest answers from it, by its policy
    // routing) and to the first.
    assert.equal(await fetch(clientA, '10.64.2.10', 7001), 'vm7001', 'eth1 reached from subnet A');
    assert.equal(await fetch(clientB, '10.64.1.10', 7000), 'vm7000', 'eth0 reached from subnet B');
    // The guest reads both interfaces from the metadata service (v1 GETs through its VPC router).
    const words = async (tag: string) => (await consoleLine(vm, tag)).split(/\s+/);
    assert.deepEqual(await words('imds-macs '), ['imds-macs', `${mac0}/`, `${mac1}/`]);
    assert.deepEqual(await words('imds-eth1 '), ['imds-eth1', '1', '10.64.2.10'], 'eth1\'s device-number and local-ipv4s');

    // A third interface attached to the running VM (in a third subnet: the guest routes by subnet, not by source):
    // hot-plugged (eth2 in the guest), reached as its group allows; detached: gone from the domain and the switch.
    const clientC = await client(subnetC, [plain], '10.64.3.20');
    const third = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetC, Groups: [only7000], PrivateIpAddress: '10.64.3.30' }))).NetworkInterface!;
    const { AttachmentId } = await t.ec2.send(new AttachNetworkInterfaceCommand({ InstanceId: vm, NetworkInterfaceId: third.NetworkInterfaceId!, DeviceIndex: 2 }));
    assert.match(await domainMacs(vm), new RegExp(third.MacAddress!));
    assert.equal(await nicLine(vm, 'eth2'), `nic-up eth2 ${third.MacAddress} 10.64.3.30/24`);
    assert.equal(await fetch(clientC, '10.64.3.30', 7000), 'vm7000', 'eth2 admits 7000 (its group)');
    assert.equal(await fetch(clientC, '10.64.3.30', 7001), '', 'eth2 does not admit 7001');
    await t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId }));
    assert.doesNotMatch(await domainMacs(vm), new RegExp(third.MacAddress!), 'unplugged from the running domain');
    assert.doesNotMatch((await execa('virsh', ['-c', 'qemu:///system', 'dumpxml', '--inactive', vm])).stdout, new RegExp(third.MacAddress!), 'and from its definition');
    assert.equal(await fetch(clientC, '10.64.3.30', 7000), '', 'nothing answers there any more');

    // A server restart over an emptied switch plugs both of the VM's ports again, each with its own groups.
    await t.restart();
    // The peers are no instances: the restart's sync removed their ports. Plugged again in a new namespace, as a
    // restarted container's are.
    for (const c of clients) {
      await execa('docker', ['restart', '-t', '0', c.name]);
      await plugClient(c);
    }
    assert.equal(await fetch(clientB, '10.64.2.10', 7001), 'vm7001', 'rebuilt: eth1 answers as its group allows');
    assert.equal(await fetch(clientB, '10.64.2.10', 7000), '', 'and only that');
    assert.equal(await fetch(clientA, '10.64.1.10', 7000), 'vm7000', 'eth0 too');

    // An interface attached while the VM is stopped is in its domain at the next start, after the others.
    await t.ec2.send(new StopInstancesCommand({ InstanceIds: [vm] }));
    await waitUntilInstanceStopped({ client: t.ec2, ...wait }, { InstanceIds: [vm] });
    await t.ec2.send(new AttachNetworkInterfaceCommand({ InstanceId: vm, NetworkInterfaceId: third.NetworkInterfaceId!, DeviceIndex: 2 }));
    await t.ec2.send(new StartInstancesCommand({ InstanceIds: [vm] }));
    await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [vm] });
    const after = [...(await domainMacs(vm)).matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/g)].map((m) => m[1]);
    assert.deepEqual(after, [mac0, mac1, third.MacAddress]);
  });
});
