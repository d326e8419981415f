/**
 * What a security-group rule change and an ENI create/delete in one small VPC cost while the installation holds K
 * other VPCs, each with groups, rules and ENIs: the call's time as the client sees it, the SQL queries it made,
 * and how many security groups the network backend was handed. See bench/README.md ("Network apply cost").
 *
 *   npx tsx bench/network-apply.ts [--k 0,100,500] [--n 30]
 *
 * The service path only: the server runs in-process with the noop compute backend and a recording network
 * backend (test/support/recording-network.ts) that answers to the name 'ovs', so the services read the records and
 * build the model as they do for Open vSwitch, and the backend programs nothing. While the other VPCs are made,
 * its name is 'noop' (the services skip the data plane, so filling stays fast). No host backend is touched.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteNetworkInterfaceCommand,
  type EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { SECOND_ACCOUNT, startTestServer } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { RecordingNetworkBackend } from '../test/support/recording-network.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const KS = (arg('--k') ?? '0,100,500').split(',').map(Number);
const N = Number(arg('--n') ?? 30);
/** Each other VPC: GROUPS groups of RULES ingress rules (one of them naming another group), ENIS ENIs in two groups. */
const GROUPS = 4;
const RULES = 10;
const ENIS = 8;

// Every query of every pg client in this process is counted (the in-process server's).
let queries = 0;
const query = pg.Client.prototype.query;
(pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (this: pg.Client, ...a: unknown[]) {
  queries++;
  return (query as (...x: unknown[]) => unknown).apply(this, a);
};

/** A VPC with a subnet, `groups` groups (the first default rules aside, `rules` ingress rules each) and `enis` ENIs. */
async function makeVpc(ec2: EC2Client, cidr: string, groups: number, rules: number, enis: number) {
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
  const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr.replace(/\.0\.0\/16$/, '.1.0/24') }))).Subnet!.SubnetId!;
  const groupIds: string[] = [];
  for (let g = 0; g < groups; g++) {
    const id = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `g${g}`, Description: 'bench' }))).GroupId!;
    const peer = groupIds[g - 1] ?? id;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({
      GroupId: id,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, UserIdGroupPairs: [{ GroupId: peer }] },
        ...Array.from({ length: rules - 1 }, (_, r) => ({ IpProtocol: 'tcp', FromPort: 1000 + r, ToPort: 1000 + r, IpRanges: [{ CidrIp: `10.${r}.0.0/16` }] })),
      ],
    }));
    groupIds.push(id);
  }
  const eniIds: string[] = [];
  for (let e = 0; e < enis; e++) {
    const Groups = [groupIds[e % groups]!, groupIds[(e + 1) % groups]!];
    eniIds.push((await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Groups }))).NetworkInterface!.NetworkInterfaceId!);
  }
  return { vpcId, subnetId, groupIds, eniIds };
}

async function main(): Promise<void> {
  const net = new RecordingNetworkBackend();
  const s = await startTestServer({ THECLOUD_RECONCILE_SECONDS: '3600' }, undefined, { backends: { network: net } });
  const ec2 = sdk(s.url);
  const other = sdk(s.url, SECOND_ACCOUNT);
  const db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
  try {
    // The VPC the calls are made in: two groups (db admits web), four ENIs.
    net.name = 'noop';
    const mine = await makeVpc(ec2, '10.200.0.0/16', 2, 2, 4);
    let made = 0;
    console.log(`network apply cost: ${N} calls of each, one after the other; each other VPC: ${GROUPS} groups of ${RULES} rules (and its default group), ${ENIS} ENIs`);
    for (const k of KS) {
      net.name = 'noop';
      // The other VPCs, over both accounts, a few at a time.
      const todo = Array.from({ length: Math.max(0, k - made) }, (_, i) => made + i);
      const workers = Array.from({ length: 8 }, async () => {
        for (let i = todo.shift(); i !== undefined; i = todo.shift()) {
          await makeVpc(i % 2 ? other : ec2, `10.${i % 200}.0.0/16`, GROUPS, RULES, ENIS);
        }
      });
      await Promise.all(workers);
      made = Math.max(made, k);
      const q0 = queries;
      const count = async (table: string) => Number((await db.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
      const totals = `${await count('vpcs')} VPCs, ${await count('security_groups')} groups, ${await count('security_group_rules')} rules, ${await count('network_interfaces')} ENIs`;
      // Statistics as autovacuum keeps them in a running installation: right after a bulk fill they are stale,
      // and plans made on them scan whole tables (a few ms a query at K=500).
      await db.query('ANALYZE');
      queries = q0;
      net.name = 'ovs';

      const measure = async (what: string, call: (i: number) => Promise<unknown>) => {
        for (let i = 0; i < 3; i++) await call(-1 - i); // warm-up: JIT, prepared statements
        const times: number[] = [];
        let q = 0;
        let groups = 0;
        let sets = 0;
        for (let i = 0; i < N; i++) {
          const from = net.calls.length;
          const qa = queries;
          const t0 = performance.now();
          await call(i);
          times.push(performance.now() - t0);
          q += queries - qa;
          for (const c of net.since(from)) {
            if (c.op !== 'setSecurityGroups') continue;
            sets++;
            groups += c.model.groups.length;
          }
        }
        times.sort((a, b) => a - b);
        const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(times.length * p))]!.toFixed(1);
        console.log(
          `  ${what.padEnd(38)} median ${pct(0.5).padStart(6)} ms  p90 ${pct(0.9).padStart(6)} ms  SQL ${(q / N).toFixed(1).padStart(6)}/call  ` +
            `setSecurityGroups ${(sets / N).toFixed(1)}/call, ${(groups / Math.max(1, sets)).toFixed(0).padStart(5)} groups each`,
        );
      };
      console.log(`K=${k} other VPCs (installation: ${totals})`);
      const port = (i: number) => 20000 + i + 10;
      await measure('AuthorizeSecurityGroupIngress (1 rule)', (i) =>
        ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: mine.groupIds[1]!, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port(i), ToPort: port(i), UserIdGroupPairs: [{ GroupId: mine.groupIds[0]! }] }] })));
      await measure('RevokeSecurityGroupIngress (1 rule)', (i) =>
        ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: mine.groupIds[1]!, IpPermissions: [{ IpProtocol: 'tcp', FromPort: port(i), ToPort: port(i), UserIdGroupPairs: [{ GroupId: mine.groupIds[0]! }] }] })));
      const enis: string[] = [];
      await measure('CreateNetworkInterface', async () => {
        enis.push((await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: mine.subnetId, Groups: [mine.groupIds[0]!] }))).NetworkInterface!.NetworkInterfaceId!);
      });
      await measure('DeleteNetworkInterface', () => ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: enis.pop()! })));
    }
  } finally {
    await db.end().catch(() => undefined);
    ec2.destroy();
    other.destroy();
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
