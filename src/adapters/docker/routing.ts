/**
 * The VPC router, for instances on Docker: the subnets of one VPC reach each other, as on AWS.
 *
 * Each subnet is its own Docker bridge network (Docker's bridge driver takes one subnet per network, and each
 * EC2 subnet needs its own gateway address). Docker drops traffic between bridge networks and masquerades what
 * leaves a bridge. Two iptables rules per VPC undo both for traffic that stays inside the VPC's CIDR and between
 * our bridges (all named `thecl…`, see names.ts):
 *   filter DOCKER-USER (Docker's hook, evaluated before its isolation chains):
 *     -i thecl+ -o thecl+ -s <vpc cidr> -d <vpc cidr> -j ACCEPT
 *   nat POSTROUTING, first (Docker inserts its MASQUERADE rules at the top, so this is moved back up whenever a
 *   network is created), so that an instance sees the other instance's own address, not a gateway's:
 *     -o thecl+ -s <vpc cidr> -d <vpc cidr> -j RETURN
 * Both carry the comment "thecloud <vpc id>", by which rules of VPCs with no network left are found and removed.
 * A dockerd restart puts its MASQUERADE rules back on top: until the next network is created, traffic between
 * subnets still flows, but its source is the gateway's address.
 *
 * Where iptables cannot be used (not installed, dockerd run with --iptables=false: no DOCKER-USER chain), the
 * rules are skipped with one warning: instances still reach the others of their own subnet.
 */
import { run as defaultRun, type Runner } from '../exec/index.js';
import { BRIDGE_PREFIX, vpcId as checkVpcId, cidr as checkCidr } from './names.js';

const COMMENT = 'thecloud';

export class VpcRoutes {
  private usable?: Promise<boolean>;
  /** VPCs whose rules this process has put in place: a launch into an existing network skips the checks. */
  private readonly ensured = new Set<string>();

  constructor(
    private readonly run: Runner = defaultRun,
    private readonly warn: (msg: string) => void = (m) => console.warn(m),
  ) {}

  /**
   * Makes sure the VPC's rules are in place. `moveToTop` (after a network was created) puts the nat rule back
   * above the MASQUERADE rule Docker has just inserted.
   */
  async ensure(vpcId: string, vpcCidr: string, opts: { moveToTop: boolean }): Promise<void> {
    if (!opts.moveToTop && this.ensured.has(vpcId)) return;
    if (!(await this.isUsable())) return;
    const { filter, nat } = rules(checkVpcId(vpcId), checkCidr(vpcCidr));
    try {
      await this.apply(filter, nat, opts.moveToTop);
      this.ensured.add(vpcId);
    } catch (e) {
      // Instances still work within their subnet: a launch is not failed for this, but it is said.
      this.warn(`thecloud: iptables rules for ${vpcId} (${vpcCidr}) could not be set: ${(e as Error).message}; its subnets will not reach each other`);
    }
  }

  private async apply(filter: string[], nat: string[], moveToTop: boolean): Promise<void> {
    if (!(await this.present('filter', filter))) await this.iptables('filter', ['-I', filter[0]!, '1', ...filter.slice(1)]);
    if (moveToTop) {
      while (await this.present('nat', nat)) await this.iptables('nat', ['-D', ...nat]);
    }
    if (!(await this.present('nat', nat))) await this.iptables('nat', ['-I', nat[0]!, '1', ...nat.slice(1)]);
  }

  /** Removes the rules of every VPC not in `keep` (VPC ids that still have a network on this host). */
  async prune(keep: ReadonlySet<string>): Promise<void> {
    for (const v of [...this.ensured]) if (!keep.has(v)) this.ensured.delete(v);
    if (!(await this.isUsable())) return;
    for (const [table, chain] of [['filter', 'DOCKER-USER'], ['nat', 'POSTROUTING']] as const) {
      const listed = await this.iptables(table, ['-S', chain]);
      for (const line of listed.stdout.split('\n')) {
        const m = new RegExp(`-s (\\S+) -d \\S+ .*--comment "?${COMMENT} (vpc-[0-9a-f]+)"?`).exec(line);
        if (!m || keep.has(m[2]!)) continue;
        const r = rules(checkVpcId(m[2]!), checkCidr(m[1]!));
        await this.iptables(table, ['-D', ...r[table]], { allowFailure: true });
      }
    }
  }

  private isUsable(): Promise<boolean> {
    this.usable ??= this.run('iptables', ['-w', '-S', 'DOCKER-USER'], { allowFailure: true, timeoutMs: 10_000 }).then(
      (r) => {
        if (r.exitCode === 0) return true;
        this.warn(`thecloud: no iptables DOCKER-USER chain (${r.stderr.trim() || `exit ${r.exitCode}`}): subnets of a VPC will not reach each other`);
        return false;
      },
      (e: Error) => {
        this.warn(`thecloud: iptables cannot run (${e.message}): subnets of a VPC will not reach each other`);
        return false;
      },
    );
    return this.usable;
  }

  private async present(table: 'filter' | 'nat', rule: string[]): Promise<boolean> {
    return (await this.iptables(table, ['-C', ...rule], { allowFailure: true })).exitCode === 0;
  }

  private iptables(table: 'filter' | 'nat', args: string[], opts: { allowFailure?: boolean } = {}) {
    return this.run('iptables', ['-w', '-t', table, ...args], { timeoutMs: 30_000, ...opts });
  }
}

function rules(vpcId: string, cidr: string): { filter: string[]; nat: string[] } {
  const bridges = `${BRIDGE_PREFIX}+`;
  const tag = ['-m', 'comment', '--comment', `${COMMENT} ${vpcId}`];
  return {
    filter: ['DOCKER-USER', '-s', cidr, '-d', cidr, '-i', bridges, '-o', bridges, ...tag, '-j', 'ACCEPT'],
    nat: ['POSTROUTING', '-s', cidr, '-d', cidr, '-o', bridges, ...tag, '-j', 'RETURN'],
  };
}
