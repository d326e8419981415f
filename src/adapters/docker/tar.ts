/**
 * A minimal ustar writer for the few small files putArchive copies into a container before its first start
 * (Docker's archive endpoint only takes tar). Directories and regular files, short names, owned by root.
 */
export interface TarEntry {
  /** Relative path, e.g. `.thecloud/init`; directories end with `/`. At most 100 bytes. */
  name: string;
  mode: number;
  content?: string | Buffer;
}

function octal(value: number, width: number): string {
  // Numeric fields are zero-padded octal followed by a NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, mode: number, size: number, isDir: boolean): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar entry name too long: ${name}`);
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(Date.now() / 1000), 12), 136, 12, 'ascii');
  h.write(isDir ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  // The checksum is computed with its own field taken as eight spaces.
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.name.endsWith('/');
    const body = isDir ? Buffer.alloc(0) : Buffer.from(e.content ?? '');
    parts.push(header(e.name, e.mode, body.length, isDir), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024)); // two empty blocks end the archive
  return Buffer.concat(parts);
}
