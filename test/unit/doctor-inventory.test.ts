import assert from 'node:assert/strict';
import { OvsInventory } from '../../src/adapters/ovs/inventory.js';
import { bridgeName } from '../../src/adapters/ovs/names.js';
import { isOurs } from '../../src/server/doctor.js';
import type { RunResult } from '../../src/adapters/exec/index.js';

describe('unit: doctor\'s inventory and what counts as another installation\'s', () => {
  it('lists Open vSwitch bridges of The Cloud (by external ids or name), not the shared libvirt bridge, and removes by name', async () => {
    const calls: string[][] = [];
    const data = {
      headings: ['name', 'external_ids'],
      data: [
        ['br-thecloud', ['map', []]],
        ['tc0123456789ab', ['map', [['thecloud-vpc', 'vpc-0aaaaaaaaaaaaaaaa']]]],
        ['tcbfedcba98765', ['map', [['thecloud-vpc', 'vpc-0bbbbbbbbbbbbbbbb'], ['thecloud-cloud', 'c0ffee00']]]],
        ['tc00000000abcd', ['map', []]],
        ['br-other', ['map', [['owner', 'someone']]]],
      ],
    };
    const inv = new OvsInventory(async (cmd, args): Promise<RunResult> => {
      calls.push([cmd, ...args]);
      return { stdout: cmd === 'ovs-vsctl' && args.includes('list') ? JSON.stringify(data) : '', stderr: '', exitCode: 0 };
    });
    const objects = await inv.objects();
    assert.deepEqual(objects.map((o) => [o.name, o.installation, o.owner]), [
      ['tc0123456789ab', '', 'vpc-0aaaaaaaaaaaaaaaa'],
      ['tcbfedcba98765', 'c0ffee00', 'vpc-0bbbbbbbbbbbbbbbb'],
      ['tc00000000abcd', '', ''],
    ]);
    await inv.remove(objects[0]!);
    assert.deepEqual(calls.at(-1), ['ovs-vsctl', '--timeout=10', '--if-exists', 'del-br', 'tc0123456789ab']);
    await assert.rejects(inv.remove({ ...objects[0]!, name: 'x; rm -rf /' }), TypeError);
    // A bridge that says whose it is goes with its VPC's router namespace and host link.
    await inv.remove(objects[1]!);
    assert.ok(calls.some((c) => c.includes('del-br') && c.at(-1) === bridgeName('c0ffee00', 'vpc-0bbbbbbbbbbbbbbbb')), calls.map((c) => c.join(' ')).join('\n'));
    assert.ok(calls.some((c) => c[0]!.startsWith('iptables')), `its host rules are looked for too:\n${calls.map((c) => c.join(' ')).join('\n')}`);
  });

  it('an object is this installation\'s by its installation id, or, without one, by a resource this installation records', () => {
    const own = { installation: 'aaaa', resources: new Set(['subnet-1', 'vpc-1']) };
    const o = (installation: string, owner: string) => ({ kind: 'docker-network' as const, name: 'n', installation, owner, detail: '' });
    assert.equal(isOurs(o('aaaa', 'subnet-9'), own), true);
    assert.equal(isOurs(o('bbbb', 'subnet-1'), own), false, 'another installation id wins over a resource id that happens to match');
    assert.equal(isOurs(o('', 'subnet-1'), own), true);
    assert.equal(isOurs(o('', 'subnet-9'), own), false);
    assert.equal(isOurs(o('', ''), own), false);
  });
});
