import { open } from 'node:fs/promises';

/**
 * Reading the consoles: the serial log virtlogd writes (appending across stop/start) and the VNC address
 * QEMU got (autoport: known only once it runs).
 */

/** The last `maxBytes` of a log file as text, or undefined when there is no such file. */
export async function readLogTail(path: string, maxBytes: number): Promise<string | undefined> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await file.stat();
    const length = Math.min(size, maxBytes);
    const buf = Buffer.alloc(length);
    await file.read(buf, 0, length, size - length);
    return buf.toString('utf8');
  } finally {
    await file.close();
  }
}

/** vnc://host:port from a running domain's live XML, or undefined when it has no VNC port (yet). */
export function vncUrlFromDomainXml(xml: string, defaultListen: string): string | undefined {
  const graphics = /<graphics\s+type='vnc'([^>]*)>/.exec(xml)?.[1] ?? '';
  const port = Number(/\sport='(\d+)'/.exec(graphics)?.[1] ?? -1);
  if (!(port > 0)) return undefined;
  const listen = /\slisten='([^']+)'/.exec(graphics)?.[1] ?? defaultListen;
  // A wildcard listener is reachable on loopback; an IPv6 address needs brackets in a URL.
  const host = listen === '0.0.0.0' ? '127.0.0.1' : listen === '::' ? '[::1]' : listen.includes(':') ? `[${listen}]` : listen;
  return `vnc://${host}:${port}`;
}
