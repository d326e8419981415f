/**
 * "The internet" for traffic tests: a network namespace joined to the host by a veth in 203.0.113.0/24
 * (TEST-NET-3), the host's end 203.0.113.1 and the far end 203.0.113.10 with its default route to the host. No
 * packet leaves the machine. Needs root (ip netns); call inside a test that already checked its backends.
 */
import { randomBytes } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';

export const INTERNET_HOST_IP = '203.0.113.1';
export const INTERNET_IP = '203.0.113.10';
export const INTERNET_CIDR = '203.0.113.0/24';

export interface Internet {
  /** The namespace's name (for `ip netns exec`). */
  netns: string;
  /** What a TCP client in the internet gets from ip:port ('' when nothing answers within 2 s). */
  fetch(ip: string, port: number): Promise<string>;
  /** A server in the internet on `port` answering each client with the address it sees it come from. */
  echoSource(port: number): ResultPromise;
  close(): Promise<void>;
}

export async function makeInternet(): Promise<Internet> {
  const tag = randomBytes(3).toString('hex');
  const netns = `thecloud-test-inet-${tag}`;
  const hostEnd = `tci${tag}`;
  const servers: ResultPromise[] = [];
  await execa('ip', ['netns', 'add', netns]);
  await execa('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
  await execa('ip', ['addr', 'add', `${INTERNET_HOST_IP}/24`, 'dev', hostEnd]);
  await execa('ip', ['link', 'set', hostEnd, 'up']);
  await execa('ip', ['-n', netns, 'addr', 'add', `${INTERNET_IP}/24`, 'dev', 'eth0']);
  await execa('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await execa('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await execa('ip', ['-n', netns, 'route', 'add', 'default', 'via', INTERNET_HOST_IP]);
  return {
    netns,
    async fetch(ip, port) {
      const r = await execa('ip', ['netns', 'exec', netns, 'busybox', 'nc', '-w', '2', ip, String(port)], { reject: false, input: '' });
      return r.stdout.trim();
    },
    echoSource(port) {
      const p = execa('ip', ['netns', 'exec', netns, process.execPath, '-e', `require('net').createServer((c) => c.end(c.remoteAddress + '\\n')).listen(${Number(port)}, '0.0.0.0')`], { reject: false });
      servers.push(p);
      return p;
    },
    async close() {
      for (const p of servers) p.kill();
      await execa('ip', ['netns', 'del', netns], { reject: false }); // the veth pair goes with it
      await execa('ip', ['link', 'del', hostEnd], { reject: false });
    },
  };
}
