/**
 * Serializes an operation's result to EC2's XML, walking the output shape of the service model:
 * element names from locationName, lists as `<xSet><item>..</item></xSet>`, empty lists as empty elements,
 * `<requestId>` first under the root. Also the EC2 error envelope.
 *
 * The document is written as strings: the shapes fix every element name, so only text needs escaping,
 * and building a DOM first (xmlbuilder2) cost about 1 s of CPU for 10,000 tags, blocking every other request.
 * Each shape is turned once into a writer (its element tags and its members' writers worked out), so writing
 * a value is string concatenation. A result may hold a `streamed` list (a Describe answer read a batch at a
 * time): `serializeResultStream` then writes the document in chunks as the batches come, so a large answer is
 * never whole in memory.
 */
import { shape, xmlElementName, XML_NAMESPACE, type Shape } from './model.js';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

const NEEDS_ESCAPE = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** Escapes text for an XML element; characters XML 1.0 cannot hold become U+FFFD. */
export function escapeXml(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[&<>\r]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '\r' ? '&#xD;' : '\ufffd',
  );
}

/** The text being written. */
interface Out {
  s: string;
}

interface Tags {
  open: string;
  close: string;
  empty: string;
}
const tagsOf = (element: string): Tags => ({ open: `<${element}>`, close: `</${element}>`, empty: `<${element}/>` });

/** Writes one value of a shape as the element `t`. */
type Writer = (out: Out, t: Tags, v: unknown) => void;

const writers = new Map<Shape, Writer>();

function writerOf(s: Shape): Writer {
  let w = writers.get(s);
  if (!w) {
    // Set before building, so that a shape that contains itself finds its writer.
    let built: Writer | undefined;
    writers.set(s, (out, t, v) => built!(out, t, v));
    built = build(s);
    writers.set(s, built);
    w = built;
  }
  return w;
}

function build(s: Shape): Writer {
  switch (s.type) {
    case 'structure': {
      const members = Object.entries(s.members ?? {}).map(([name, ref]) => ({ name, tags: tagsOf(xmlElementName(name, ref)), shape: shape(ref.shape) }));
      let resolved: { name: string; tags: Tags; write: Writer }[] | undefined;
      return (out, t, v) => {
        resolved ??= members.map((m) => ({ name: m.name, tags: m.tags, write: writerOf(m.shape) }));
        const obj = v as Record<string, unknown>;
        let opened = false;
        for (const m of resolved) {
          const x = obj[m.name];
          if (x === undefined || x === null) continue;
          if (!opened) out.s += t.open;
          opened = true;
          m.write(out, m.tags, x);
        }
        out.s += opened ? t.close : t.empty;
      };
    }
    case 'list': {
      const item = tagsOf(s.member!.locationName ?? 'member');
      const itemShape = shape(s.member!.shape);
      return (out, t, v) => {
        const write = writerOf(itemShape);
        let opened = false;
        for (const x of v as unknown[]) {
          if (x === undefined || x === null) continue;
          if (!opened) out.s += t.open;
          opened = true;
          write(out, item, x);
        }
        out.s += opened ? t.close : t.empty;
      };
    }
    default: {
      const text = scalarText(s);
      return (out, t, v) => {
        const x = text(v);
        out.s += x === '' ? t.empty : t.open + escapeXml(x) + t.close;
      };
    }
  }
}

function scalarText(s: Shape): (v: unknown) => string {
  switch (s.type) {
    case 'boolean':
      return (v) => (v ? 'true' : 'false');
    case 'timestamp':
      return (v) => (v instanceof Date ? v : new Date(v as string)).toISOString();
    case 'blob':
      return (v) => (Buffer.isBuffer(v) ? v.toString('base64') : String(v));
    default:
      return (v) => (typeof v === 'string' ? v : String(v));
  }
}

/** The result's top-level members: their tags and writers. */
function topMembers(outputShape: string): { name: string; tags: Tags; shape: Shape; write: Writer }[] {
  return Object.entries(shape(outputShape).members ?? {}).map(([name, ref]) => {
    const s = shape(ref.shape);
    return { name, tags: tagsOf(xmlElementName(name, ref)), shape: s, write: writerOf(s) };
  });
}

const head = (operation: string, requestId: string) =>
  `${DECLARATION}<${operation}Response xmlns="${XML_NAMESPACE}"><requestId>${escapeXml(requestId)}</requestId>`;

export function serializeResult(operation: string, outputShape: string | undefined, result: unknown, requestId: string): string {
  const out: Out = { s: head(operation, requestId) };
  if (outputShape && result && typeof result === 'object') {
    for (const m of topMembers(outputShape)) {
      const v = (result as Record<string, unknown>)[m.name];
      if (v !== undefined && v !== null) m.write(out, m.tags, v);
    }
  }
  return out.s + `</${operation}Response>`;
}

/** A top-level list of a result whose items come in batches; see `streamed`. */
export class StreamedList<T = unknown> {
  constructor(readonly batches: AsyncIterable<T[]>) {}
}

/**
 * A list the serializer writes as its batches come. Typed as the array it stands for, so a handler returns it
 * where its output shape has a list: `{ Vpcs: streamed(page.rows, (rows) => rows.map(toVpc)) }`. Only a
 * result's top-level members may be streamed.
 */
export function streamed<R, T>(batches: AsyncIterable<R[]>, map: (batch: R[]) => T[]): T[] {
  async function* mapped() {
    for await (const b of batches) yield map(b);
  }
  return new StreamedList(mapped()) as unknown as T[];
}

export function hasStreamedList(result: unknown): boolean {
  return !!result && typeof result === 'object' && Object.values(result).some((v) => v instanceof StreamedList);
}

/** How much text is gathered before a chunk is handed on. */
const CHUNK_CHARS = 64 * 1024;

/** The same document as serializeResult, in chunks; streamed lists are read as the consumer pulls. */
export async function* serializeResultStream(operation: string, outputShape: string | undefined, result: unknown, requestId: string): AsyncGenerator<string> {
  const out: Out = { s: head(operation, requestId) };
  if (outputShape && result && typeof result === 'object') {
    for (const m of topMembers(outputShape)) {
      const v = (result as Record<string, unknown>)[m.name];
      if (v === undefined || v === null) continue;
      if (!(v instanceof StreamedList)) {
        m.write(out, m.tags, v);
        continue;
      }
      if (m.shape.type !== 'list') throw new Error(`${operation}.${m.name} is not a list and cannot be streamed`);
      const item = tagsOf(m.shape.member!.locationName ?? 'member');
      const write = writerOf(shape(m.shape.member!.shape));
      let opened = false;
      for await (const batch of v.batches) {
        for (const x of batch) {
          if (x === undefined || x === null) continue;
          if (!opened) out.s += m.tags.open;
          opened = true;
          write(out, item, x);
          if (out.s.length >= CHUNK_CHARS) {
            yield out.s;
            out.s = '';
          }
        }
      }
      out.s += opened ? m.tags.close : m.tags.empty;
    }
  }
  yield out.s + `</${operation}Response>`;
}

export function serializeError(code: string, message: string, requestId: string): string {
  return (
    `${DECLARATION}<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
    `</Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`
  );
}
