import assert from 'node:assert/strict';
import { VpcRoutes } from '../../src/adapters/docker/routing.js';
import type { RunResult, Runner } from '../../src/adapters/exec/index.js';

/** A fake iptables holding rules per table/chain, answering -S, -C, -I, -D as the real one does. */
function fakeIptables(opts: { chainMissing?: boolean; failInsert?: boolean } = {}) {
  const chains: Record<string, string[][]> = { 'filter DOCKER-USER': [['-j', 'RETURN']], 'nat POSTROUTING': [['-s', '10.0.0.0/24', '!', '-o', 'br-x', '-j', 'MASQUERADE']] };
  const calls: string[] = [];
  const ok = (stdout = ''): RunResult => ({ stdout, stderr: '', exitCode: 0 });
  const run: Runner = async (command, args) => {
    assert.equal(command, 'iptables');
    calls.push(args.join(' '));
    const a = [...args];
    assert.equal(a.shift(), '-w', 'always waits for the xtables lock');
    let table = 'filter';
    if (a[0] === '-t') { a.shift(); table = a.shift()!; }
    const op = a.shift()!;
    const chain = a.shift()!;
    const key = `${table} ${chain}`;
    if (opts.chainMissing && chain === 'DOCKER-USER') return { stdout: '', stderr: "iptables: No chain/target/match by that name.", exitCode: 1 };
    const rules = (chains[key] ??= []);
    const quote = (r: string[]) => r.map((x) => (x.includes(' ') ? `"${x}"` : x)).join(' ');
    const idx = () => rules.findIndex((r) => r.join('\0') === a.join('\0'));
    switch (op) {
      case '-S': return ok(rules.map((r) => `-A ${chain} ${quote(r)}`).join('\n') + '\n');
      case '-C': return idx() >= 0 ? ok() : { stdout: '', stderr: 'Bad rule', exitCode: 1 };
      case '-I': {
        if (opts.failInsert) throw new Error('iptables: Couldn\'t load match `comment\'');
        const pos = Number(a.shift()) - 1;
        rules.splice(pos, 0, a);
        return ok();
      }
      case '-D': { const i = idx(); if (i < 0) return { stdout: '', stderr: 'Bad rule', exitCode: 1 }; rules.splice(i, 1); return ok(); }
      default: throw new Error(`unexpected ${op}`);
    }
  };
  return { run, chains, calls };
}

describe('unit: Docker VPC routing rules', () => {
  const vpc = 'vpc-0123456789abcdef0';
  it('puts one ACCEPT in DOCKER-USER and one RETURN first in nat POSTROUTING, once', async () => {
    const ipt = fakeIptables();
    const routes = new VpcRoutes(ipt.run, () => assert.fail('no warning expected'));
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: false });
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    const filter = ipt.chains['filter DOCKER-USER']!;
    assert.equal(filter.length, 2);
    assert.deepEqual(filter[0], ['-s', '172.31.0.0/16', '-d', '172.31.0.0/16', '-i', 'thecl+', '-o', 'thecl+', '-m', 'comment', '--comment', `thecloud ${vpc}`, '-j', 'ACCEPT']);
    const nat = ipt.chains['nat POSTROUTING']!;
    assert.equal(nat.length, 2);
    assert.equal(nat[0]!.at(-1), 'RETURN', 'above the MASQUERADE rule');
  });

  it('moves its nat rule back on top after Docker inserted a MASQUERADE above it', async () => {
    const ipt = fakeIptables();
    const routes = new VpcRoutes(ipt.run);
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    ipt.chains['nat POSTROUTING']!.unshift(['-s', '172.31.16.0/20', '!', '-o', 'thecl1', '-j', 'MASQUERADE']);
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    const nat = ipt.chains['nat POSTROUTING']!;
    assert.equal(nat[0]!.at(-1), 'RETURN');
    assert.equal(nat.filter((r) => r.at(-1) === 'RETURN').length, 1);
  });

  it('removes the rules of VPCs that have no network left, and only those', async () => {
    const ipt = fakeIptables();
    const routes = new VpcRoutes(ipt.run);
    const other = 'vpc-00000000000000001';
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    await routes.ensure(other, '10.1.0.0/16', { moveToTop: true });
    await routes.prune(new Set([other]));
    const all = [...ipt.chains['filter DOCKER-USER']!, ...ipt.chains['nat POSTROUTING']!].map((r) => r.join(' '));
    assert.ok(!all.some((r) => r.includes(vpc)), all.join('\n'));
    assert.equal(all.filter((r) => r.includes(other)).length, 2);
    // Pruned VPCs are checked again on their next launch.
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: false });
    assert.equal(ipt.chains['filter DOCKER-USER']!.filter((r) => r.join(' ').includes(vpc)).length, 1);
  });

  it('without a DOCKER-USER chain (dockerd --iptables=false) adds nothing and warns once', async () => {
    const ipt = fakeIptables({ chainMissing: true });
    const warnings: string[] = [];
    const routes = new VpcRoutes(ipt.run, (m) => warnings.push(m));
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /will not reach each other/);
    assert.equal(ipt.chains['nat POSTROUTING']!.length, 1);
  });

  it('a failing iptables does not fail the launch: it warns', async () => {
    const warnings: string[] = [];
    const routes = new VpcRoutes(fakeIptables({ failInsert: true }).run, (m) => warnings.push(m));
    await routes.ensure(vpc, '172.31.0.0/16', { moveToTop: true });
    assert.match(warnings.join('\n'), new RegExp(`${vpc}.*could not be set`));
  });

  it('refuses names that are not a VPC id or a CIDR before running anything', async () => {
    const ipt = fakeIptables();
    const routes = new VpcRoutes(ipt.run);
    await assert.rejects(routes.ensure('vpc-1; reboot', '172.31.0.0/16', { moveToTop: true }), TypeError);
    await assert.rejects(routes.ensure(vpc, '172.31.0.0/16 -j DROP', { moveToTop: true }), TypeError);
    assert.ok(ipt.calls.every((c) => !c.includes('reboot') && !c.includes('DROP')));
  });
});
