import assert from 'node:assert/strict';
import { CommandError, type Runner } from '../../src/adapters/exec/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';

/** A host where every tool runs, and ovs-vswitchd answers only when `switchUp`. */
function host(switchUp: boolean): { runner: Runner; calls: string[] } {
  const calls: string[] = [];
  const runner: Runner = async (command, args) => {
    calls.push([command, ...args].join(' '));
    if (command === 'ovs-appctl' && !switchUp) throw new CommandError(command, args, 1, 'ovs-appctl: cannot connect to "/var/run/openvswitch/ovs-vswitchd.*.ctl" (No such file or directory)');
    if (command === 'ovs-appctl') return { stdout: 'ovs-vswitchd (Open vSwitch) 3.1.0\n', stderr: '', exitCode: 0 };
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  return { runner, calls };
}

describe('the OVS backend\'s probe (npm run doctor, the tests\' needBackend)', () => {
  it('says the switch is down when ovsdb-server answers but ovs-vswitchd, which forwards, does not', async () => {
    const h = host(false);
    const r = await new OvsNetworkBackend({ cloudId: 'abcdef0123456789', runner: h.runner }).probe();
    assert.equal(r.ok, false);
    assert.match(r.detail, /ovs-vswitchd does not/);
    assert.ok(h.calls.some((c) => c.startsWith('ovs-vsctl') && c.endsWith(' show')), 'the database was asked first');
  });

  it('names the running switch\'s version when both answer', async () => {
    const r = await new OvsNetworkBackend({ cloudId: 'abcdef0123456789', runner: host(true).runner }).probe();
    assert.deepEqual(r, { ok: true, detail: 'ovsdb-server and ovs-vswitchd answer (ovs-vswitchd (Open vSwitch) 3.1.0)' });
  });
});
