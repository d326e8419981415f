import { deflateSync } from 'node:zlib';

/**
 * `virsh screenshot` of a QEMU domain gives a PPM (P6) file; the port promises PNG or JPEG. This is a small PNG
 * encoder (8-bit RGB, no filtering, zlib from node) and PPM reader, so no image package is needed.
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes 8-bit RGB pixels (width * height * 3 bytes, row by row) as a PNG. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`bad image size ${width}x${height}`);
  }
  const stride = width * 3;
  if (rgb.length < stride * height) throw new RangeError('not enough pixel data');
  // Each scanline is prefixed with its filter type; 0 (none) keeps the encoder trivial.
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour RGB
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

/** Reads a binary PPM (P6): header tokens separated by whitespace, '#' comments, then the samples. */
export function decodePpm(data: Buffer): RgbImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < data.length && /\s/.test(String.fromCharCode(data[pos]!))) pos++;
      if (data[pos] !== 0x23) break; // '#': a comment to the end of the line
      while (pos < data.length && data[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < data.length && !/\s/.test(String.fromCharCode(data[pos]!))) pos++;
    return data.subarray(start, pos).toString('ascii');
  };
  if (token() !== 'P6') throw new Error('not a binary PPM (P6) image');
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  if (!(width > 0 && height > 0 && maxval > 0 && maxval < 65536)) throw new Error('bad PPM header');
  pos++; // the single whitespace byte after maxval
  const samples = width * height * 3;
  const bytesPerSample = maxval < 256 ? 1 : 2;
  if (data.length - pos < samples * bytesPerSample) throw new Error('truncated PPM image');
  const rgb = new Uint8Array(samples);
  for (let i = 0; i < samples; i++) {
    const v = bytesPerSample === 1 ? data[pos + i]! : data.readUInt16BE(pos + 2 * i);
    rgb[i] = maxval === 255 ? v : Math.round((v * 255) / maxval);
  }
  return { width, height, rgb };
}

export function isPng(data: Buffer): boolean {
  return data.length >= 8 && data.subarray(0, 8).equals(PNG_SIGNATURE);
}

/** A screenshot as PNG: PNG passes through, PPM is converted. */
export function screenshotToPng(data: Buffer): Buffer {
  if (isPng(data)) return data;
  const img = decodePpm(data);
  return encodePng(img.width, img.height, img.rgb);
}
