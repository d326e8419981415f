/**
 * EBS on LVM: what the storage adapter adds to the raw LVM commands, on the same storage host in the same run,
 * and what the data path costs. See bench/README.md ("Storage benchmark").
 *
 *   npx tsx bench/storage.ts [--n 5] [--mib 32] [--only ops,multi,clone,restore,dd]
 *
 * Everything runs against the storage host of the configuration (by default the guest scripts/setup-storage-host.sh
 * boots) under a fresh installation id, and everything it makes is removed at the end. It prints numbers and
 * asserts nothing about them.
 */
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import Docker from 'dockerode';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { demuxLogs } from '../src/adapters/docker/logs.js';
import { LibvirtComputeBackend } from '../src/adapters/libvirt/index.js';
import { hex, snapId, testStorage, volId } from '../test/support/storage.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const N = Number(arg('--n') ?? 5);
const MIB = Number(arg('--mib') ?? 32);
const ONLY = (arg('--only') ?? 'ops,multi,clone,restore,dd').split(',');

const t = testStorage();
const s = t.backend;
const dev = (id: string) => `/dev/${t.vg}/${id}`;
const rawRun = (cmd: string, args: string[]) => t.host.run(cmd, args, { timeoutMs: 600_000 });

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const ms = (x: number) => `${x.toFixed(0).padStart(7)} ms`;
function line(what: string, xs: number[], baseline?: number[], goal?: number): void {
  const ratio = baseline ? `   ratio ${(median(xs) / median(baseline)).toFixed(2)}x${goal ? ` (goal <= ${goal}x)` : ''}` : '';
  console.log(`${what.padEnd(58)} median ${ms(median(xs))}  min ${ms(Math.min(...xs))}  max ${ms(Math.max(...xs))}${ratio}`);
}

/** MiB/s of a `time dd ... count=MIB` (busybox's dd prints no rate; its `time` prints "real 0m 1.23s"). */
function ddRate(text: string): string {
  const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(text);
  return m ? `${(MIB / (Number(m[1]) * 60 + Number(m[2]))).toFixed(1)} MiB/s`.padStart(12) : `? (${text.trim().split('\n').pop()})`;
}

async function ops(): Promise<void> {
  console.log(`\n== volume and snapshot operations (${N} each; adapter vs the raw command over the same SSH runner)`);
  const rtt: number[] = [];
  for (let i = 0; i < N; i++) rtt.push(await time(() => rawRun('true', [])));
  line('round trip to the storage host (true)', rtt);
  const raw: number[] = [];
  const adapter: number[] = [];
  const rawSnap: number[] = [];
  const adapterSnap: number[] = [];
  for (let i = 0; i < N; i++) {
    const r = `bench-${hex(8)}`;
    raw.push(await time(() => rawRun('lvcreate', ['-q', '-V', '1g', '-T', `${t.vg}/thecloud-pool`, '-n', r])));
    rawSnap.push(await time(() => rawRun('lvcreate', ['-q', '-s', '-n', `${r}-s`, `${t.vg}/${r}`])));
    await rawRun('lvremove', ['-q', '-y', `${t.vg}/${r}-s`, `${t.vg}/${r}`]);
    const v = volId();
    adapter.push(await time(() => s.createVolume(v, 1)));
    adapterSnap.push(await time(() => s.createSnapshot(v, snapId())));
  }
  line('raw lvcreate -V 1g -T (thin volume)', raw);
  line('createVolume 1 GiB -> ready', adapter, raw, 1.5); // issue 8's goal
  line('raw lvcreate -s (thin snapshot)', rawSnap);
  line('createSnapshot -> completed (point in time)', adapterSnap, rawSnap);
}

/** CreateSnapshots' host side: two NBD-exported volumes held still while both are snapshotted, against two createSnapshot calls. */
async function multi(): Promise<void> {
  console.log(`\n== two exported volumes snapshotted at one point in time (${N} each)`);
  const a = volId();
  const b = volId();
  for (const v of [a, b]) {
    await s.createVolume(v, 1);
    await s.export(v, 'remote-bench');
  }
  const together: number[] = [];
  const apart: number[] = [];
  for (let i = 0; i < N; i++) {
    together.push(await time(() => s.createSnapshots([{ volumeId: a, snapshotId: snapId() }, { volumeId: b, snapshotId: snapId() }])));
    apart.push(await time(async () => {
      await s.createSnapshot(a, snapId());
      await s.createSnapshot(b, snapId());
    }));
  }
  line('2 x createSnapshot, one after the other', apart);
  line('createSnapshots of both (NBD servers held still)', together, apart);
  for (const v of [a, b]) await s.unexport(v);
}

async function clone(): Promise<void> {
  console.log(`\n== a root volume from a 1 GiB image disk holding ${MIB * 4} MiB: thin snapshot vs full copy`);
  const img = `ami-${hex(17)}`;
  await s.createImage(img, 1);
  await rawRun('dd', ['if=/dev/urandom', `of=${dev(img)}`, 'bs=1M', `count=${MIB * 4}`, 'oflag=direct']);
  await s.completeImage(img); // filled: only now may volumes be cloned from it
  const snap: number[] = [];
  const copy: number[] = [];
  for (let i = 0; i < Math.min(N, 3); i++) {
    snap.push(await time(() => s.createVolume(volId(), 1, { imageId: img })));
    const c = `bench-${hex(8)}`;
    copy.push(
      await time(async () => {
        await rawRun('lvcreate', ['-q', '-V', '1g', '-T', `${t.vg}/thecloud-pool`, '-n', c]);
        await rawRun('dd', [`if=${dev(img)}`, `of=${dev(c)}`, 'bs=4M', 'oflag=direct']);
      }),
    );
    await rawRun('lvremove', ['-q', '-y', `${t.vg}/${c}`]);
  }
  line('createVolume from the image (thin snapshot, grown if asked)', snap);
  line('lvcreate + dd of the whole image (full copy)', copy);
}

async function restore(): Promise<void> {
  console.log(`\n== restore per GiB (volume written with ${MIB} MiB, snapshotted, written again)`);
  for (const gib of [1, 4]) {
    const v = volId();
    const sn = snapId();
    await s.createVolume(v, gib);
    await rawRun('dd', ['if=/dev/urandom', `of=${dev(v)}`, 'bs=1M', `count=${MIB}`, 'oflag=direct']);
    await s.createSnapshot(v, sn);
    await rawRun('dd', ['if=/dev/urandom', `of=${dev(v)}`, 'bs=1M', `count=${MIB}`, 'oflag=direct']);
    const intoNew = await time(() => s.createVolume(volId(), gib, { snapshotId: sn }));
    const inPlace = await time(() => s.restoreSnapshotInPlace(sn, v));
    console.log(`${`${gib} GiB volume`.padEnd(14)} restore into a new volume ${ms(intoNew)} (${ms(intoNew / gib)}/GiB)   in place (merge) ${ms(inPlace)} (${ms(inPlace / gib)}/GiB)`);
  }
}

async function dd(): Promise<void> {
  console.log(`\n== dd of ${MIB} MiB (O_DIRECT, 1 MiB blocks): on the LV itself vs through an attached volume`);
  const v = volId();
  await s.createVolume(v, 1);
  const w = await rawRun('time', ['dd', 'if=/dev/zero', `of=${dev(v)}`, 'bs=1M', `count=${MIB}`, 'oflag=direct']);
  const r = await rawRun('time', ['dd', `if=${dev(v)}`, 'of=/dev/null', 'bs=1M', `count=${MIB}`, 'iflag=direct']);
  console.log(`${'on the storage host, the LV itself'.padEnd(48)} write ${ddRate(w.stderr)}   read ${ddRate(r.stderr)}`);

  const docker = new Docker();
  const compute = new DockerComputeBackend({});
  const probe = await compute.probe();
  if (!probe.ok) console.log(`container: skipped (${probe.detail})`);
  else {
    const { backendId } = await compute.create({ instanceId: `i-${hex(17)}`, accountId: '000000000000', imageRef: 'thecloud/busybox:latest', vcpus: 1, memoryMiB: 128, hostname: 'bench', publicKeys: [] });
    await compute.start(backendId); // create makes, start runs
    try {
      await compute.attachVolume(backendId, { volumeId: v, deviceName: '/dev/sdf', export: await s.export(v, 'compute-1') });
      const sh = async (script: string) => {
        const exec = await docker.getContainer(backendId).exec({ Cmd: ['/bin/sh', '-c', script], AttachStdout: true, AttachStderr: true });
        const stream = await exec.start({});
        const chunks: Buffer[] = [];
        await new Promise((res) => { stream.on('data', (c: Buffer) => chunks.push(c)); stream.on('end', res); });
        return demuxLogs(Buffer.concat(chunks));
      };
      const cw = await sh(`time dd if=/dev/zero of=/dev/sdf bs=1M count=${MIB} oflag=direct 2>&1`);
      const cr = await sh(`time dd if=/dev/sdf of=/dev/null bs=1M count=${MIB} iflag=direct 2>&1`);
      console.log(`${'in a container (NBD -> FUSE -> loop)'.padEnd(48)} write ${ddRate(cw)}   read ${ddRate(cr)}`);
      await compute.detachVolume(backendId, v);
    } finally {
      await compute.destroy(backendId);
      await s.unexport(v);
    }
  }

  const libvirt = new LibvirtComputeBackend({});
  const lp = await libvirt.probe();
  if (!lp.ok) {
    console.log(`VM: skipped (${lp.detail})`);
    return;
  }
  const instanceId = `i-${hex(17)}`;
  const script = `#!/bin/sh
for i in $(seq 1 600); do
  for d in /sys/block/vd*; do
    if [ "$(cat $d/serial 2>/dev/null)" = "${v.replace('-', '')}" ]; then
      n=/dev/\${d##*/}
      echo "BENCH-WRITE $( (time dd if=/dev/zero of=$n bs=1M count=${MIB} oflag=direct) 2>&1 | grep real)"
      echo "BENCH-READ $( (time dd if=$n of=/dev/null bs=1M count=${MIB} iflag=direct) 2>&1 | grep real)"
      echo BENCH-DONE
      exit 0
    fi
  done
  sleep 0.5
done
`;
  const { backendId } = await libvirt.create({
    instanceId, accountId: '000000000000', imageRef: 'kernel:/var/lib/thecloud/images/thecloud-test', vcpus: 1, memoryMiB: 256,
    hostname: 'bench', publicKeys: [], userData: Buffer.from(script), firstBootScript: script,
  });
  await libvirt.start(backendId); // create defines, start boots
  try {
    await libvirt.attachVolume(backendId, { volumeId: v, deviceName: '/dev/sdf', export: await s.export(v, 'compute-1') });
    let out = '';
    for (let i = 0; i < 600 && !out.includes('BENCH-DONE'); i++) {
      await new Promise((res) => setTimeout(res, 1000));
      out = await libvirt.consoleOutput(backendId);
    }
    const vw = /BENCH-WRITE (.*)/.exec(out)?.[1] ?? '';
    const vr = /BENCH-READ (.*)/.exec(out)?.[1] ?? '';
    console.log(`${'in a VM (QEMU NBD client, virtio-blk)'.padEnd(48)} write ${ddRate(vw)}   read ${ddRate(vr)}`);
  } finally {
    await libvirt.destroy(backendId).catch(() => undefined);
    await s.unexport(v);
  }
}

async function main(): Promise<void> {
  const p = await s.probe();
  if (!p.ok) throw new Error(`the storage host does not answer: ${p.detail}`);
  console.log(`storage: ${p.detail}`);
  console.log(`load: ${(await execa('uptime')).stdout.trim()}`);
  try {
    if (ONLY.includes('ops')) await ops();
    if (ONLY.includes('multi')) await multi();
    if (ONLY.includes('clone')) await clone();
    if (ONLY.includes('restore')) await restore();
    if (ONLY.includes('dd')) await dd();
  } finally {
    await t.cleanup();
    console.log(`\nload: ${(await execa('uptime')).stdout.trim()}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
