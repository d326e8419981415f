/**
 * NBD exports on the storage host: one qemu-nbd per exported disk, on its own TCP port from a configured range,
 * named by the disk's id, with a pid file `<dir>/<port>-<disk id>.pid` that is the export's only record (the
 * directory lives in the storage host's /run: exports end with the host, as their servers do).
 *
 * Why one server per port rather than one nbd-server with many exports: nbd-server only adds exports on reload
 * (a removed export stays servable until restart, and a re-used name keeps its old device); qemu-storage-daemon
 * would need a QMP client on the host. A qemu-nbd process per export starts and stops with the export, and a
 * stopped export can never be reached again. The cost is a port each (a range forwarded or opened once).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Runner } from '../exec/index.js';
import { diskId as checkDiskId } from './names.js';

export interface NbdExport {
  diskId: string;
  port: number;
  pid: number;
}

export interface NbdOptions {
  /** Directory of the pid files on the storage host */
  dir: string;
  /** Inclusive port range */
  firstPort: number;
  lastPort: number;
  /** Address qemu-nbd listens on (0.0.0.0 in the QEMU guest, whose ports are forwarded to 127.0.0.1) */
  bind: string;
}

const PIDFILE = /\/(\d{1,5})-((?:vol|ami)-[0-9a-f]+)\.pid:(\d+)$/;

export class NbdExports {
  constructor(
    private readonly run: Runner,
    private readonly opts: NbdOptions,
  ) {}

  /** Exports whose qemu-nbd still runs. Stale pid files (a killed server) are removed on the way. */
  async list(): Promise<NbdExport[]> {
    const r = await this.run('grep', ['-r', '-H', '', this.opts.dir], { allowFailure: true, readOnly: true });
    const found: NbdExport[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = PIDFILE.exec(line.trim());
      if (!m) continue;
      const e = { port: Number(m[1]), diskId: m[2]!, pid: Number(m[3]) };
      if (await this.alive(e)) found.push(e);
      else await this.run('rm', ['-f', this.pidFile(e.port, e.diskId)]);
    }
    return found;
  }

  async find(diskId: string): Promise<NbdExport | undefined> {
    return (await this.list()).find((e) => e.diskId === diskId);
  }

  /** Starts qemu-nbd for the device on the first free port of the range. */
  async start(diskId: string, devicePath: string): Promise<NbdExport> {
    checkDiskId(diskId);
    await this.run('mkdir', ['-p', this.opts.dir]);
    const taken = new Set((await this.list()).map((e) => e.port));
    for (let port = this.opts.firstPort; port <= this.opts.lastPort; port++) {
      if (taken.has(port)) continue;
      const r = await this.run(
        'qemu-nbd',
        [
          '--fork', // returns once the server listens
          '--persistent', // a client may disconnect and come back (QEMU reconnects, a detach/attach)
          '--shared=4',
          '--cache=none', // O_DIRECT on the LV: what a client was told is written is on the device (snapshots see it)
          '--format=raw',
          '--discard=unmap',
          `--export-name=${diskId}`,
          `--bind=${this.opts.bind}`,
          `--port=${port}`,
          `--pid-file=${this.pidFile(port, diskId)}`,
          devicePath,
        ],
        { allowFailure: true, timeoutMs: 30_000 },
      );
      if (r.exitCode === 0) {
        const pid = Number((await this.run('cat', [this.pidFile(port, diskId)], { readOnly: true })).stdout.trim());
        return { diskId, port, pid };
      }
      if (!/Address already in use|Failed to bind|Failed to find an available port/i.test(r.stderr)) {
        throw new Error(`qemu-nbd cannot export ${diskId}: ${r.stderr.trim().slice(0, 500)}`);
      }
    }
    throw new Error(`no free NBD port in ${this.opts.firstPort}-${this.opts.lastPort} on the storage host`);
  }

  /** Stops the disk's server(s) and waits until they are gone. */
  async stop(diskId: string): Promise<void> {
    for (const e of (await this.list()).filter((x) => x.diskId === diskId)) {
      await this.run('kill', [String(e.pid)], { allowFailure: true });
      for (let i = 0; i < 50 && (await this.alive(e)); i++) await sleep(100);
      if (await this.alive(e)) await this.run('kill', ['-9', String(e.pid)], { allowFailure: true });
      await this.run('rm', ['-f', this.pidFile(e.port, e.diskId)]);
    }
  }

  /**
   * Holds the disks' servers still (SIGSTOP) and waits until each is stopped: no write reaches the disks and no
   * write is acknowledged to a client until thaw(). With --cache=none, what a client was told is written is
   * already on the device. Answers the servers held, for thaw().
   */
  async freeze(diskIds: string[]): Promise<NbdExport[]> {
    const held = (await this.list()).filter((e) => diskIds.includes(e.diskId));
    try {
      for (const e of held) await this.run('kill', ['-STOP', String(e.pid)]);
      for (const e of held) {
        for (let i = 0; i < 50 && !(await this.stopped(e)); i++) await sleep(20);
      }
    } catch (err) {
      await this.thaw(held);
      throw err;
    }
    return held;
  }

  async thaw(held: NbdExport[]): Promise<void> {
    for (const e of held) await this.run('kill', ['-CONT', String(e.pid)], { allowFailure: true });
  }

  /** The process's state (the third field of /proc/<pid>/stat, after the parenthesised name) is T: stopped. */
  private async stopped(e: NbdExport): Promise<boolean> {
    const r = await this.run('cat', [`/proc/${e.pid}/stat`], { allowFailure: true, readOnly: true });
    return r.exitCode !== 0 || /\)\s+[Tt]\s/.test(r.stdout);
  }

  private pidFile(port: number, diskId: string): string {
    return `${this.opts.dir}/${port}-${checkDiskId(diskId)}.pid`;
  }

  /** The pid is a qemu-nbd serving this disk (not a re-used pid): its command line names the export. */
  private async alive(e: NbdExport): Promise<boolean> {
    const r = await this.run('cat', [`/proc/${e.pid}/cmdline`], { allowFailure: true, readOnly: true });
    // 255 is ssh's own failure (cat exits 1 for a gone pid): unknown, not dead. Taken for dead, list() removed the
    // pid file of a live server (seen: a root's qemu-nbd left running, untracked, its LV never deletable).
    if (r.exitCode === 255) throw new Error(`the storage host did not answer whether qemu-nbd ${e.pid} (${e.diskId}) runs`);
    return r.exitCode === 0 && r.stdout.split('\0').includes(`--export-name=${e.diskId}`);
  }
}
