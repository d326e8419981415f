import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OvsNetworkBackend, bridgeFlows, portBlocks, protocolMatches, ovsNames } from '../../src/adapters/ovs/index.js';
import type { Runner } from '../../src/adapters/exec/index.js';
import { NetworkNotSyncedError, type PortSpec, type SecurityGroupSpec } from '../../src/ports/index.js';

/** The pure parts of the OVS adapter; the real traffic is in ovs-traffic.test.ts. */

const hex = (n: number) => randomBytes(n).toString('hex').slice(0, n);
const CLOUD = 'feedc0de';

describe('ovs network adapter: pure parts', () => {
  it('turns a port range into the fewest value/mask blocks', () => {
    assert.deepEqual(portBlocks(80, 80), ['80']);
    assert.deepEqual(portBlocks(0, 65535), ['0/0x0']);
    assert.deepEqual(portBlocks(1000, 1999), ['1000/0xfff8', '1008/0xfff0', '1024/0xfe00', '1536/0xff00', '1792/0xff80', '1920/0xffc0', '1984/0xfff0']);
    // Every port of a range is covered exactly once, and nothing outside it.
    const covered = (blocks: string[]) => {
      const set = new Set<number>();
      for (const b of blocks) {
        const [v, m] = b.split('/');
        const mask = m ? parseInt(m, 16) : 0xffff;
        for (let p = 0; p < 65536; p++) if ((p & mask) === Number(v)) set.add(p);
      }
      return set;
    };
    const s = covered(portBlocks(8079, 8443));
    assert.equal(s.size, 8443 - 8079 + 1);
    assert.ok(s.has(8079) && s.has(8443) && !s.has(8078) && !s.has(8444));
  });

  it('matches protocols as AWS rules mean them', () => {
    assert.deepEqual(protocolMatches({ protocol: 'all', peer: { cidr: '0.0.0.0/0' } }), ['ip']);
    assert.deepEqual(protocolMatches({ protocol: 'tcp', ports: { from: 22, to: 22 }, peer: { cidr: '0.0.0.0/0' } }), ['tcp,tp_dst=22']);
    assert.deepEqual(protocolMatches({ protocol: 'udp', peer: { cidr: '0.0.0.0/0' } }), ['udp']);
    assert.deepEqual(protocolMatches({ protocol: 'icmp', icmp: { type: 8, code: -1 }, peer: { cidr: '0.0.0.0/0' } }), ['icmp,icmp_type=8']);
    assert.deepEqual(protocolMatches({ protocol: 'icmp', icmp: { type: 3, code: 4 }, peer: { cidr: '0.0.0.0/0' } }), ['icmp,icmp_type=3,icmp_code=4']);
    assert.deepEqual(protocolMatches({ protocol: 'icmp', icmp: { type: -1, code: -1 }, peer: { cidr: '0.0.0.0/0' } }), ['icmp']);
    assert.deepEqual(protocolMatches({ protocol: 47, peer: { cidr: '0.0.0.0/0' } }), ['ip,nw_proto=47']);
    assert.deepEqual(protocolMatches({ protocol: 6, ports: { from: 443, to: 443 }, peer: { cidr: '0.0.0.0/0' } }), ['tcp,tp_dst=443']);
  });

  it('expands source-group rules to the members, and admits only its own addresses from a port', () => {
    const port: PortSpec = {
      eniId: 'eni-0123456789abcdef0', vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', mac: '02:00:00:00:00:01',
      ips: ['10.0.1.10'], gateway: '10.0.1.1', subnetCidr: '10.0.1.0/24', securityGroupIds: ['sg-0123456789abcdef0'], deviceIndex: 0,
    };
    const groups = new Map<string, SecurityGroupSpec>([
      ['sg-0123456789abcdef0', { groupId: 'sg-0123456789abcdef0', vpcId: port.vpcId, memberIps: ['10.0.1.10', '10.0.2.7'],
        ingress: [{ protocol: 'tcp', ports: { from: 22, to: 22 }, peer: { groupId: 'sg-0123456789abcdef0' } }], egress: [] }],
    ]);
    const flows = bridgeFlows({
      subnets: [{ spec: { vpcId: port.vpcId, subnetId: port.subnetId, cidr: port.subnetCidr, gateway: port.gateway }, tag: 1, legMac: '0a:00:00:00:00:01', legOfport: 1 }],
      ports: [{ spec: port, ofport: 5, zone: 9 }],
      groups,
    });
    assert.match(flows, /in_port=5,dl_src=02:00:00:00:00:01,ip,nw_src=10\.0\.1\.10,actions=/);
    assert.match(flows, /reg7=5,ct_state=\+new-inv\+trk,tcp,tp_dst=22,nw_src=10\.0\.2\.7\/32,actions=ct\(commit,zone=9\),output:5/);
    assert.doesNotMatch(flows, /table=11,priority=100,in_port=5/, 'no egress rule: nothing new leaves');
    assert.equal(bridgeFlows({ subnets: [], ports: [{ spec: port, ofport: 5, zone: 9 }], groups }), bridgeFlows({ subnets: [], ports: [], groups }), 'a port of an unknown subnet gets no flows');
  });

  it('refuses unsafe names and bad input before running any command', async () => {
    const calls: string[] = [];
    const runner: Runner = async (cmd, args) => {
      calls.push(`${cmd} ${args.join(' ')}`);
      return { stdout: '{"data":[]}', stderr: '', exitCode: 0 };
    };
    assert.throws(() => new OvsNetworkBackend({ cloudId: 'x; rm -rf /', runner }), /cloud id/);
    const net = new OvsNetworkBackend({ cloudId: CLOUD, runner });
    const port: PortSpec = {
      eniId: 'eni-0123456789abcdef0', vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', mac: '02:00:00:00:00:01',
      ips: ['10.0.1.10'], gateway: '10.0.1.1', subnetCidr: '10.0.1.0/24', securityGroupIds: [], deviceIndex: 0,
    };
    const bad: [string, () => Promise<unknown>][] = [
      ['vpc id', () => net.ensureVpc({ vpcId: 'vpc-1;reboot', cidrs: ['10.0.0.0/16'], vni: 1 })],
      ['CIDR', () => net.ensureVpc({ vpcId: 'vpc-0123456789abcdef0', cidrs: ['10.0.0.1/16'], vni: 1 })],
      ['VNI', () => net.ensureVpc({ vpcId: 'vpc-0123456789abcdef0', cidrs: ['10.0.0.0/16'], vni: 1 << 24 })],
      ['gateway', () => net.ensureSubnet({ vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', cidr: '10.0.1.0/24', gateway: '10.0.2.1' })],
      ['eni', () => net.plug({ ...port, eniId: 'eni-../../etc' }, { kind: 'netns', pid: 1234 })],
      ['mac', () => net.plug({ ...port, mac: '01:00:5e:00:00:01' }, { kind: 'netns', pid: 1234 })],
      ['ip', () => net.plug({ ...port, ips: ['10.0.2.10'] }, { kind: 'netns', pid: 1234 })],
      ['pid', () => net.plug(port, { kind: 'netns', pid: 1 })],
      ['tap', () => net.plug(port, { kind: 'ovs-port', name: '-rf' })],
      ['port range', () => net.setSecurityGroups({ groups: [{ groupId: 'sg-0123456789abcdef0', vpcId: port.vpcId, memberIps: [], egress: [], ingress: [{ protocol: 'tcp', ports: { from: 90, to: 80 }, peer: { cidr: '0.0.0.0/0' } }] }] })],
      ['protocol', () => net.setSecurityGroups({ groups: [{ groupId: 'sg-0123456789abcdef0', vpcId: port.vpcId, memberIps: [], egress: [], ingress: [{ protocol: 'sctp' as 'tcp', peer: { cidr: '0.0.0.0/0' } }] }] })],
      ['group id', () => net.setPortSecurityGroups(port.eniId, ['sg-$(id)'])],
      // A scoped call carries exactly its VPCs' part: another VPC's group or ACL in it would be half applied.
      ['scope id', () => net.setSecurityGroups({ groups: [] }, { vpcIds: ['vpc-1;reboot'] })],
      ['group outside the scope', () => net.setSecurityGroups({ groups: [{ groupId: 'sg-0123456789abcdef0', vpcId: port.vpcId, memberIps: [], egress: [], ingress: [] }] }, { vpcIds: ['vpc-0123456789abcdef1'] })],
      ['ACL outside the scope', () => net.setNetworkAcls([{ aclId: 'acl-0123456789abcdef0', vpcId: port.vpcId, isDefault: true, subnetIds: [], entries: [] }], { vpcIds: ['vpc-0123456789abcdef1'] })],
    ];
    for (const [what, call] of bad) await assert.rejects(call(), TypeError, what);
    assert.deepEqual(calls, [], 'no command ran');
    // A valid call before the first sync is refused too: the model is not known yet.
    await assert.rejects(net.plug(port, { kind: 'netns', pid: 1234 }), NetworkNotSyncedError);
    assert.deepEqual(calls, []);
  });

  it('derives stable host names within 15 characters, and a UUID interface id for libvirt', () => {
    const eni = `eni-${hex(17)}`;
    for (const name of [ovsNames.bridgeName(CLOUD, 'vpc-0123456789abcdef0'), ovsNames.containerVeth(CLOUD, eni), ovsNames.vmTap(CLOUD, eni), ovsNames.routerLeg(CLOUD, 'subnet-0123456789abcdef0')]) {
      assert.ok(name.length <= 15 && ovsNames.OWN_IFNAME.test(name), name);
    }
    assert.notEqual(ovsNames.containerVeth(CLOUD, eni), ovsNames.containerVeth('feedc0df', eni), 'another installation, another name');
    assert.match(ovsNames.interfaceUuid(CLOUD, eni), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
