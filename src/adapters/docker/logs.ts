/**
 * Container logs as text. Without a TTY, Docker multiplexes stdout and stderr into frames: one byte for the
 * stream, three zero bytes, a big-endian 32-bit length, then the payload. The console output is both
 * streams, in order.
 */
export function demuxLogs(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const stream = raw[at]!;
    // Not a frame header: the container has a TTY and its log is raw text.
    if (stream > 2 || raw[at + 1] !== 0 || raw[at + 2] !== 0 || raw[at + 3] !== 0) return raw.toString('utf8');
    const size = raw.readUInt32BE(at + 4);
    parts.push(raw.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  if (at < raw.length && parts.length === 0) return raw.toString('utf8');
  return Buffer.concat(parts).toString('utf8');
}
