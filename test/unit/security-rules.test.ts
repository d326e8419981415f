import assert from 'node:assert/strict';
import { rulesOf, sameRule } from '../../src/services/network/rules.js';
import { securityModel, securityRule } from '../../src/services/network/dataplane.js';
import type { SecurityGroupRuleRow } from '../../src/db/repositories/network.js';
import type { EniRow } from '../../src/db/repositories/enis.js';

const byId = async (p: { GroupId?: string; GroupName?: string }) => p.GroupId ?? `sg-of-${p.GroupName}`;

describe('security group rules: from the API to the data plane', () => {
  it('normalises IpPermissions as AWS does: names for 6/17/1, -1 ports for all of tcp, network addresses', async () => {
    const r = await rulesOf({ IpPermissions: [
      { IpProtocol: '6', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.1.2.3/8' }, { CidrIp: '192.168.0.0/16' }] },
      { IpProtocol: 'TCP', FromPort: -1, ToPort: -1, UserIdGroupPairs: [{ GroupId: 'sg-a' }] },
      { IpProtocol: 'all', IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ] }, byId);
    assert.deepEqual(r.map((x) => [x.ip_protocol, x.from_port, x.to_port, x.cidr_ipv4 ?? x.referenced_group_id]), [
      ['tcp', 22, 22, '10.0.0.0/8'], ['tcp', 22, 22, '192.168.0.0/16'], ['tcp', 0, 65535, 'sg-a'], ['-1', null, null, '0.0.0.0/0'],
    ]);
    const legacy = await rulesOf({ IpProtocol: 'udp', FromPort: 53, ToPort: 53, CidrIp: '10.0.0.2/32' }, byId);
    assert.ok(sameRule(legacy[0]!, { ip_protocol: 'udp', from_port: 53, to_port: 53, cidr_ipv4: '10.0.0.2/32', referenced_group_id: null, description: 'x' }), 'descriptions do not make rules differ');
  });

  it('refuses bad input with AWS codes before anything is written', async () => {
    const code = async (input: Parameters<typeof rulesOf>[0]) => rulesOf(input, byId).then(() => 'none', (e: { code?: string }) => e.code);
    assert.equal(await code({ IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 70_000, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }), 'InvalidParameterValue');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: 'tcp', FromPort: 90, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }), 'InvalidParameterValue');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: 'tcp', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }), 'MissingParameter');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: 'icmp', FromPort: 300, ToPort: 0, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }), 'InvalidParameterValue');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: 'bogus', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }), 'InvalidParameterValue');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '10.0.0.0/33' }] }] }), 'InvalidParameterValue');
    assert.equal(await code({ IpPermissions: [{ IpProtocol: '-1' }] }), 'MissingParameter');
    assert.equal(await code({}), 'MissingParameter');
  });

  it('gives the data plane each rule and each group\'s members from the ENI records', () => {
    const row = (over: Partial<SecurityGroupRuleRow>): SecurityGroupRuleRow => ({ id: 'sgr-1', group_id: 'sg-a', account_id: '000000000000', is_egress: false, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: null, referenced_group_id: null, description: null, ...over });
    assert.deepEqual(securityRule(row({ ip_protocol: 'tcp', from_port: 80, to_port: 81, cidr_ipv4: '10.0.0.0/8' })), { protocol: 'tcp', ports: { from: 80, to: 81 }, peer: { cidr: '10.0.0.0/8' } });
    assert.deepEqual(securityRule(row({ ip_protocol: 'tcp', from_port: 0, to_port: 65535, referenced_group_id: 'sg-b' })), { protocol: 'tcp', peer: { groupId: 'sg-b' } });
    assert.deepEqual(securityRule(row({ ip_protocol: 'icmp', from_port: 8, to_port: -1, cidr_ipv4: '0.0.0.0/0' })), { protocol: 'icmp', icmp: { type: 8, code: -1 }, peer: { cidr: '0.0.0.0/0' } });
    assert.deepEqual(securityRule(row({ ip_protocol: '47', cidr_ipv4: '0.0.0.0/0' })), { protocol: 47, peer: { cidr: '0.0.0.0/0' } });
    const eni = (id: string, groups: string[], ips: string[]) => ({ id, security_group_ids: groups, ips }) as unknown as EniRow;
    const model = securityModel(
      [{ id: 'sg-a', account_id: '000000000000', vpc_id: 'vpc-1', group_name: 'a', description: '' }],
      [row({ referenced_group_id: 'sg-a' }), row({ id: 'sgr-2', is_egress: true, cidr_ipv4: '0.0.0.0/0' })],
      [eni('eni-1', ['sg-a'], ['10.0.0.4']), eni('eni-2', ['sg-b'], ['10.0.0.5']), eni('eni-3', ['sg-b', 'sg-a'], ['10.0.0.6', '10.0.0.7'])],
    );
    assert.deepEqual(model.groups[0]!.memberIps, ['10.0.0.4', '10.0.0.6', '10.0.0.7']);
    assert.equal(model.groups[0]!.ingress.length, 1);
    assert.equal(model.groups[0]!.egress.length, 1);
  });
});
