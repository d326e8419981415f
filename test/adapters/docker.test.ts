/**
 * The Docker compute adapter against a real Docker engine (scripts/setup-docker.sh starts one and builds
 * thecloud/busybox:latest). Skipped where Docker is missing, except in CI.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { run } from '../../src/adapters/exec/index.js';
import type { BackendState, InstanceSpec, PortSpec } from '../../src/ports/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';
import { needBackend } from '../support/backends.js';

const BASE = 'thecloud/busybox:latest';
const hex = (n: number) => randomBytes(12).toString('hex').slice(0, n);
const ACCOUNT = '000000000000';

function spec(overrides: Partial<InstanceSpec> = {}): InstanceSpec {
  const instanceId = `i-${hex(17)}`;
  return { instanceId, accountId: ACCOUNT, imageRef: BASE, vcpus: 1, memoryMiB: 128, hostname: `ip-${hex(6)}`, publicKeys: [], ...overrides };
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

/** Connects to ip:port and returns what the server sends before closing. */
function tcpRead(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host, port, timeout: 3000 });
    s.on('data', (d) => chunks.push(d));
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

describe('docker adapter: validation (Docker never called)', () => {
  // A dockerode whose every property access is recorded and fails: validation must come first.
  const touched: string[] = [];
  const trap = new Proxy(new Docker({ socketPath: '/nonexistent.sock' }), {
    get(_t, prop) {
      touched.push(String(prop));
      throw new Error('Docker was called');
    },
  });
  const backend = new DockerComputeBackend(trap);
  const bad = '; touch /tmp/pwned $(reboot) `id` | cat &';

  it('rejects names with shell metacharacters before Docker is called', async () => {
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['instance id', () => backend.create(spec({ instanceId: `i-0123456789abcdef0${bad}` }))],
      ['hostname', () => backend.create(spec({ hostname: `host${bad}` }))],
      ['image', () => backend.create(spec({ imageRef: `busybox${bad}` }))],
      ['account', () => backend.create(spec({ accountId: `0${bad}` }))],
      ['public key', () => backend.create(spec({ publicKeys: ['ssh-ed25519 AAAA\ncommand="x" ssh-rsa B'] }))],
      [
        'ENI',
        () => backend.create(spec({ nics: [{ eniId: `eni-1${bad}`, deviceIndex: 0, mac: '02:00:00:00:00:01', ips: ['172.31.250.9'], subnetCidr: '172.31.250.0/24', gateway: '172.31.250.1' }] })),
      ],
      ['backend id', () => backend.start(`abc${bad}`)],
      ['backend id (stop)', () => backend.stop('../../containers/x', { force: true })],
      ['backend id (destroy)', () => backend.destroy(`0123456789ab${bad}`)],
      ['capture image id', () => backend.captureImage('0123456789abcdef', `ami-1${bad}`)],
      ['inspected image', () => backend.inspectImage(`docker:busybox${bad}`)],
      ['deleted image', () => backend.deleteImage(`thecloud/ami:ami-1${bad}`)],
    ];
    for (const [what, attempt] of attempts) {
      await assert.rejects(attempt, TypeError, `${what} with metacharacters was not rejected as invalid`);
    }
    assert.deepEqual(touched, [], 'Docker was called before validation');
  });
});

describe('docker adapter (real Docker)', function () {
  const docker = new Docker();
  const backend = new DockerComputeBackend(docker);
  const ovsCloud = hex(16);
  let ovs: OvsNetworkBackend | undefined;
  const created: string[] = []; // instance ids (container names), for cleanup even where create failed
  const images: string[] = [];
  let keyDir: string | undefined;

  before(async function () {
    await needBackend(this, 'docker', async () => {
      const p = await backend.probe();
      if (!p.ok) return p;
      const hasBase = await docker.getImage(BASE).inspect().then(() => true, () => false);
      return hasBase ? p : { ok: false, detail: `${BASE} is missing: run scripts/setup-docker.sh` };
    });
  });

  after(async () => {
    for (const name of created) await docker.getContainer(name).remove({ force: true }).catch(() => undefined);
    // This test's VPC on the switch goes with it.
    await ovs?.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } }).catch(() => undefined);
    for (const ref of images) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  /** create (which makes the container without starting it), then start. */
  async function create(s: InstanceSpec): Promise<string> {
    created.push(s.instanceId);
    const { backendId } = await backend.create(s);
    assert.equal(await backend.state(backendId), 'pending', 'made, not started');
    assert.equal((await backend.find(s.instanceId))?.backendId, backendId, 'found by its instance id');
    await backend.start(backendId);
    return backendId;
  }

  const waitState = (id: string, want: BackendState) =>
    eventually(`state ${want}`, async () => (await backend.state(id)) === want || undefined);

  it('probes Docker and inspects the base image', async () => {
    const p = await backend.probe();
    assert.equal(p.ok, true, p.detail);
    const info = await backend.inspectImage(BASE);
    assert.deepEqual(info, { ref: BASE, architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64', sizeGiB: 1 });
    assert.deepEqual(await backend.inspectImage(`docker:${BASE}`), info);
    await assert.rejects(backend.inspectImage('thecloud/no-such-image:latest'), /not on this host and could not be pulled/);
  });

  describe('an instance on a subnet, with a first-boot script and a key pair', () => {
    const marker = `first-boot-marker-${hex(12)}`;
    // Its ENI, plugged by the OVS network backend into the container's namespace; the host reaches the VPC
    // through its link, and the port's group admits the host.
    const vpc = { vpcId: `vpc-${hex(17)}`, cidrs: ['172.31.0.0/16'], vni: 4242 };
    const subnet = { vpcId: vpc.vpcId, subnetId: `subnet-${hex(17)}`, cidr: '172.31.250.0/24', gateway: '172.31.250.1' };
    const group = `sg-${hex(17)}`;
    const port: PortSpec = {
      eniId: `eni-${hex(17)}`, vpcId: vpc.vpcId, subnetId: subnet.subnetId, mac: `02:${hex(10).match(/../g)!.join(':')}`,
      ips: [`172.31.250.${10 + (randomBytes(1)[0]! % 200)}`], gateway: subnet.gateway, subnetCidr: subnet.cidr, securityGroupIds: [group], deviceIndex: 0,
    };
    const network = { privateIp: port.ips[0]!, macAddress: port.mac };
    const security = { groups: [{ groupId: group, vpcId: vpc.vpcId, ingress: [{ protocol: 'all' as const, peer: { cidr: '169.254.252.0/22' } }], egress: [{ protocol: 'all' as const, peer: { cidr: '0.0.0.0/0' } }], memberIps: port.ips }] };
    const script = `#!/bin/sh\necho "${marker} as $(id -un)"\nnc -ll -p 7777 -e /bin/echo pong-from-instance &\n`;
    let s: InstanceSpec;
    let id = '';
    let key = '';

    before(async () => {
      keyDir = await mkdtemp(join(tmpdir(), 'thecloud-docker-test-'));
      key = join(keyDir, 'id_ed25519');
      const pub = (await run('dropbearkey', ['-t', 'ed25519', '-f', key])).stdout.split('\n').find((l) => l.startsWith('ssh-ed25519'));
      assert.ok(pub, 'dropbearkey printed no public key');
      s = spec({ vcpus: 2, memoryMiB: 256, firstBootScript: script, publicKeys: [pub], nics: [{ eniId: port.eniId, deviceIndex: 0, mac: port.mac, ips: port.ips, subnetCidr: port.subnetCidr, gateway: port.gateway }] });
      ovs = new OvsNetworkBackend({ cloudId: ovsCloud, hostVpcs: [vpc.vpcId] });
      await ovs.sync({ vpcs: [vpc], subnets: [subnet], ports: [], security });
    });

    it('creates and starts it; the script runs once, as root, into the console output', async () => {
      const t0 = Date.now();
      id = await create(s);
      await waitState(id, 'running');
      await ovs!.plug(port, (await backend.sandbox(id))!);
      const running = Date.now() - t0;
      const console1 = await eventually('the marker', async () => {
        const out = await backend.consoleOutput(id);
        return out.includes('first-boot script exited') ? out : undefined;
      });
      console.log(`      (create to running: ${running} ms; to first-boot script done: ${Date.now() - t0} ms)`);
      assert.equal(count(console1, marker), 1, console1);
      assert.match(console1, new RegExp(`${marker} as root`));
      const listed = (await backend.list()).find((i) => i.backendId === id);
      assert.deepEqual(listed, { backendId: id, instanceId: s.instanceId, accountId: ACCOUNT, state: 'running' });
    });

    it('has the subnet IP, MAC, hostname and limits, and the host reaches it', async () => {
      const info = await docker.getContainer(id).inspect();
      assert.equal(info.HostConfig.NetworkMode, 'none', 'no Docker network: the network backend plugs it');
      const eth0 = (await run('docker', ['exec', id, 'ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout;
      assert.match(eth0, new RegExp(`inet ${network.privateIp.replace(/\./g, '\\.')}/24`));
      const link = (await run('docker', ['exec', id, 'cat', '/sys/class/net/eth0/address'])).stdout.trim();
      assert.equal(link, network.macAddress);
      assert.equal(info.Config.Hostname, s.hostname);
      assert.equal(info.Name, `/${s.instanceId}`);
      assert.equal(info.HostConfig.NanoCpus, Math.min(2, (await docker.info()).NCPU) * 1e9);
      assert.equal(info.HostConfig.Memory, 256 * 1024 * 1024);
      assert.match(await eventually('the nc server', () => tcpRead(network.privateIp, 7777)), /pong-from-instance/);
    });

    it('accepts SSH with the key pair as ec2-user', async () => {
      // -y -y: no host key check and nothing written to known_hosts
      const r = await run('dbclient', ['-y', '-y', '-i', key, `ec2-user@${network.privateIp}`, 'id -un; hostname'], { timeoutMs: 15_000 });
      assert.deepEqual(r.stdout.trim().split('\n'), ['ec2-user', s.hostname]);
      const rootKeys = await run('dbclient', ['-y', '-y', '-i', key, `root@${network.privateIp}`, 'cat /root/.ssh/authorized_keys'], { timeoutMs: 15_000 });
      assert.match(rootKeys.stdout, /^ssh-ed25519 /);
    });

    it('stops, starts and reboots without running the script again', async () => {
      await backend.stop(id, { force: false });
      assert.equal(await backend.state(id), 'stopped');
      // Graceful: SIGTERM ended it. Had the wrapper or command ignored it, Docker would have killed it at the stop
      // timeout (exit 137, SIGKILL); judged by how it ended, not by how long it took (the machine is shared).
      const ended = (await docker.getContainer(id).inspect()).State;
      assert.notEqual(ended.ExitCode, 137, `killed at the stop timeout: the wrapper/command ignores SIGTERM (${JSON.stringify(ended)})`);
      // Every start (and reboot) makes a new network namespace, which the network backend plugs again.
      const replug = async () => ovs!.plug(port, (await eventually('the sandbox', () => backend.sandbox(id)))!);
      await backend.start(id);
      await waitState(id, 'running');
      await replug();
      // The second boot is let finish before the reboot: a reboot while it still waits for its network would end
      // it before dropbear starts (legitimately), and three boots would never show three SSH servers.
      await eventually('the second boot', async () => count(await backend.consoleOutput(id), 'dropbear SSH server started') >= 2 || undefined, 60_000);
      await backend.reboot(id);
      await waitState(id, 'running');
      await replug();
      // Each boot starts dropbear: three boots, one first-boot script.
      // Waited for as "at least three" (a loaded machine may take a while), then checked as exactly three.
      let last = '';
      const out = await eventually('three boots', async () => {
        last = await backend.consoleOutput(id);
        return count(last, 'dropbear SSH server started') >= 3 ? last : undefined;
      }, 60_000).catch((e: Error) => {
        throw new Error(`${e.message}; the console said:\n${last}`);
      });
      assert.equal(count(out, 'dropbear SSH server started'), 3, out);
      assert.equal(count(out, marker), 1, out);
      await backend.start(id); // already running: fine
      await docker.getContainer(id).pause();
      assert.equal(await backend.state(id), 'pending', 'paused: it runs again only once started');
      await backend.start(id);
      assert.equal(await backend.state(id), 'running', 'start unpauses');
      await backend.stop(id, { force: true });
      assert.equal(await backend.state(id), 'stopped');
      await backend.stop(id, { force: true }); // already stopped: fine
      await backend.stop(id, { force: false });
    });

    it('resizes the stopped instance (vCPUs capped at the host)', async () => {
      await backend.resize(id, 64, 512);
      let hc = (await docker.getContainer(id).inspect()).HostConfig;
      assert.equal(hc.NanoCpus, (await docker.info()).NCPU * 1e9);
      assert.equal(hc.Memory, 512 * 1024 * 1024);
      await backend.resize(id, 1, 64);
      hc = (await docker.getContainer(id).inspect()).HostConfig;
      assert.equal(hc.NanoCpus, 1e9);
      assert.equal(hc.Memory, 64 * 1024 * 1024);
      await backend.start(id);
      await waitState(id, 'running');
    });

    it('sees its type from inside: nproc, /proc/meminfo (lxcfs), its own uptime; a resize follows', async () => {
      const inside = async (cmd: string) => (await run('docker', ['exec', id, 'sh', '-c', cmd])).stdout.trim();
      assert.equal(await inside('nproc'), '1', 'the cpuset of 1 vCPU');
      assert.equal((await docker.getContainer(id).inspect()).HostConfig.CpusetCpus?.split(',').length, 1);
      // In CI lxcfs is always there (scripts/setup-lxcfs.sh); on a machine without it only the cpuset is checked.
      if (existsSync('/var/lib/lxcfs/proc/meminfo')) {
        assert.equal(await inside("awk '/^MemTotal/ {print $2}' /proc/meminfo"), String(64 * 1024));
        assert.ok(Number((await inside('cat /proc/uptime')).split(' ')[0]) < Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]), 'its own uptime, not the host\'s');
      } else if (process.env.CI === 'true') {
        assert.fail('lxcfs is not running (scripts/setup-lxcfs.sh)');
      }
      await backend.stop(id, { force: true });
      await backend.resize(id, 2, 96);
      await backend.start(id);
      await waitState(id, 'running');
      assert.equal(await inside('nproc'), String(Math.min(2, (await docker.info()).NCPU)));
      if (existsSync('/var/lib/lxcfs/proc/meminfo')) assert.equal(await inside("awk '/^MemTotal/ {print $2}' /proc/meminfo"), String(96 * 1024));
    });

    describe('captureImage', () => {
      const imageId = `ami-${hex(17)}`;
      const ref = `thecloud/ami:${imageId}`;
      let second = '';

      it('commits the instance with the original entrypoint and command', async () => {
        images.push(ref);
        const info = await backend.captureImage(id, imageId);
        assert.deepEqual(info, { ref, architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64', sizeGiB: 1 });
        const [captured, base] = await Promise.all([docker.getImage(ref).inspect(), docker.getImage(BASE).inspect()]);
        assert.deepEqual(captured.Config.Entrypoint ?? [], base.Config.Entrypoint ?? []);
        assert.deepEqual(captured.Config.Cmd, base.Config.Cmd);
        assert.equal(captured.Config.Labels?.['thecloud.managed'], 'false');
      });

      it('starts a new instance (default bridge) that runs its own first boot, not the old one', async () => {
        const marker2 = `second-marker-${hex(12)}`;
        const s2 = spec({ imageRef: ref, firstBootScript: `echo ${marker2}` });
        second = await create(s2);
        await waitState(second, 'running');
        const out = await eventually('the second marker', async () => {
          const o = await backend.consoleOutput(second);
          return o.includes('first-boot script exited') ? o : undefined;
        });
        assert.equal(count(out, marker2), 1, out);
        assert.equal(count(out, marker), 0, out);
        const info = await docker.getContainer(second).inspect();
        assert.ok(info.NetworkSettings.Networks.bridge, 'not on the default bridge');
        // Still running a moment later: the image's own (idle) command took over from the wrapper.
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(await backend.state(second), 'running');
      });

      it('a container from the captured image alone runs the original command', async () => {
        const c = await docker.createContainer({ Image: ref, name: `thecloud-test-${hex(12)}` });
        try {
          const info = await c.inspect();
          assert.equal(info.Path, '/bin/sh');
          assert.deepEqual(info.Args, (await docker.getImage(BASE).inspect()).Config.Cmd!.slice(1));
        } finally {
          await c.remove({ force: true });
        }
      });

      it('destroys the instances: no container left, idempotent', async () => {
        await backend.destroy(second);
        await backend.destroy(id);
        await backend.destroy(id);
        assert.equal(await backend.state(id), 'missing');
        const ids = (await backend.list()).map((i) => i.backendId);
        assert.ok(!ids.includes(id) && !ids.includes(second), 'list() still shows a destroyed instance');
        await assert.rejects(docker.getContainer(s.instanceId).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
      });

      it('deletes the captured image, idempotently, and refuses other images', async () => {
        await backend.deleteImage(ref);
        await backend.deleteImage(ref);
        await assert.rejects(docker.getImage(ref).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
        await assert.rejects(backend.deleteImage(BASE), /only thecloud\/ami/);
      });
    });
  });

  it('runs an image entrypoint + command after first boot, and a capture gives them (and the user) back', async () => {
    // An image with its own ENTRYPOINT, CMD and USER, derived from the base image.
    const derived = `thecloud/test-derived:${hex(12)}`;
    images.push(derived);
    const tmp = await docker.createContainer({ Image: BASE, name: `thecloud-test-${hex(12)}` });
    const [repo, tag] = derived.split(':');
    await tmp.commit({
      repo,
      tag,
      changes: ['ENTRYPOINT ["/bin/sh", "-c", "echo entrypoint-ran-as-$(id -un) \\"$@\\"; exec sleep 3600", "sh"]', 'CMD ["a", "b"]', 'USER ec2-user'],
    });
    await tmp.remove({ force: true });

    const s = spec({ imageRef: derived, firstBootScript: 'echo script-ran-as-$(id -un)' });
    const id = await create(s);
    const out = await eventually('the entrypoint', async () => {
      const o = await backend.consoleOutput(id);
      return o.includes('entrypoint-ran') ? o : undefined;
    });
    assert.match(out, /script-ran-as-root/);
    // The image's USER is not applied to the running instance: the wrapper, and so the command, run as root.
    assert.match(out, /entrypoint-ran-as-root a b/);
    assert.ok(out.indexOf('script-ran') < out.indexOf('entrypoint-ran'), out);

    const imageId = `ami-${hex(17)}`;
    images.push(`thecloud/ami:${imageId}`);
    await backend.captureImage(id, imageId);
    const [captured, source] = await Promise.all([docker.getImage(`thecloud/ami:${imageId}`).inspect(), docker.getImage(derived).inspect()]);
    assert.deepEqual(captured.Config.Entrypoint, source.Config.Entrypoint);
    assert.deepEqual(captured.Config.Cmd, ['a', 'b']);
    assert.equal(captured.Config.User, 'ec2-user');
    await backend.destroy(id);
    await backend.deleteImage(`thecloud/ami:${imageId}`);
  });

  it('rejects a create whose image is missing, leaving nothing behind', async () => {
    const s = spec({ imageRef: 'thecloud/no-such-image:latest' });
    await assert.rejects(create(s), /not on this host/);
    await assert.rejects(docker.getContainer(s.instanceId).inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
  });
});
