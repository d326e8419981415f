import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { interfaceMacs, setDomainNics } from '../../src/adapters/libvirt/nics.js';
import { Virsh } from '../../src/adapters/libvirt/virsh.js';
import { renderInterfaceXml, type InterfaceParams } from '../../src/adapters/libvirt/templates.js';

/** A domain's NICs made to match its ENIs (the commands virsh is given; the real hot-plug is in test/instances/libvirt-multi-eni). */
describe('libvirt adapter: a domain\'s NICs (unit)', () => {
  const nic = (mac: string, tap: string): InterfaceParams => ({ mac, bridge: 'tcb0000', openvswitch: true, targetDev: tap, interfaceId: '0b9f6a43-3c1e-4f3e-9a59-1a2b3c4d5e6f' });
  const domain = (...nics: InterfaceParams[]) => `<domain type='qemu'><devices><disk type='file'/>\n${nics.map((n) => renderInterfaceXml(n)).join('')}</devices></domain>`;

  /** A fake virsh: `live` and `config` are the domain's XMLs; attach/detach change them as libvirt would. */
  function fake(live: string | undefined, config: string) {
    const calls: string[][] = [];
    const state = { live, config };
    const virsh = new Virsh('qemu:///system', async (_cmd, argv) => {
      const args = argv.slice(2);
      if (args[0] === 'dumpxml') return { stdout: args[1] === '--inactive' ? state.config : state.live!, stderr: '', exitCode: 0 };
      const scope = args[args.length - 1] === '--live' ? 'live' : 'config';
      if (args[0] === 'attach-device') {
        const xml = await readFile(args[2]!, 'utf8');
        calls.push([args[0], interfaceMacs(xml)[0]!, scope, /<target dev='(\w+)'/.exec(xml)![1]!]);
        state[scope] = state[scope]!.replace('</devices>', `${xml}</devices>`);
      } else if (args[0] === 'detach-interface') {
        calls.push([args[0], args[4]!, scope]);
        state[scope] = state[scope]!.replace(new RegExp(`<interface\\b(?:(?!</interface>)[\\s\\S])*${args[4]}[\\s\\S]*?</interface>\\n?`), '');
      }
      return { stdout: '', stderr: '', exitCode: 0 };
    });
    return { virsh, calls, state };
  }

  it('reads the MACs of a domain\'s interfaces in order', () => {
    assert.deepEqual(interfaceMacs(domain(nic('02:00:00:00:00:0A', 'tct1'), nic('02:00:00:00:00:0b', 'tct2'))), ['02:00:00:00:00:0a', '02:00:00:00:00:0b']);
    assert.deepEqual(interfaceMacs('<domain/>'), []);
  });

  it('attaches the missing NICs and detaches the others, in the definition only when the domain is off', async () => {
    const a = nic('02:00:00:00:00:0a', 'tcta');
    const b = nic('02:00:00:00:00:0b', 'tctb');
    const c = nic('02:00:00:00:00:0c', 'tctc');
    const f = fake(undefined, domain(a, c));
    await setDomainNics(f.virsh, 'i-1', [a, b], false);
    assert.deepEqual(f.calls, [['attach-device', b.mac, 'config', 'tctb'], ['detach-interface', c.mac, 'config']]);
    assert.deepEqual(interfaceMacs(f.state.config), [a.mac, b.mac]);
    f.calls.length = 0;
    await setDomainNics(f.virsh, 'i-1', [a, b], false);
    assert.deepEqual(f.calls, [], 'idempotent');
  });

  it('changes the running guest first, then the definition, when the domain runs', async () => {
    const a = nic('02:00:00:00:00:0a', 'tcta');
    const b = nic('02:00:00:00:00:0b', 'tctb');
    const f = fake(domain(a, b), domain(a, b));
    await setDomainNics(f.virsh, 'i-1', [a], true);
    assert.deepEqual(f.calls, [['detach-interface', b.mac, 'live'], ['detach-interface', b.mac, 'config']]);
    f.calls.length = 0;
    await setDomainNics(f.virsh, 'i-1', [a, b], true);
    assert.deepEqual(f.calls, [['attach-device', b.mac, 'live', 'tctb'], ['attach-device', b.mac, 'config', 'tctb']]);
  });

  it('fails when the guest does not let go of an unplugged NIC in time', async () => {
    const a = nic('02:00:00:00:00:0a', 'tcta');
    const f = fake(domain(a), domain(a));
    const stuck = new Virsh('qemu:///system', async (cmd, argv, o) => (argv[2] === 'detach-interface' ? { stdout: '', stderr: '', exitCode: 0 } : f.virsh.run(argv.slice(2), o)));
    await assert.rejects(setDomainNics(stuck, 'i-1', [], true, 300), /did not release its interface 02:00:00:00:00:0a/);
  });
});
