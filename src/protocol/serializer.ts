/**
 * Serializes an operation's result to EC2's XML, walking the output shape of the service model:
 * element names from locationName, lists as `<xSet><item>..</item></xSet>`, empty lists as empty elements,
 * `<requestId>` first under the root. Also the EC2 error envelope.
 *
 * The document is written as strings: the shapes fix every element name, so only text needs escaping,
 * and building a DOM first (xmlbuilder2) cost about 1 s of CPU for 10,000 tags, blocking every other request.
 * A result may hold a `streamed` list (a Describe answer read a batch at a time): `serializeResultStream` then
 * writes the document in chunks as the batches come, so a large answer is never whole in memory.
 */
import { shape, xmlElementName, XML_NAMESPACE, type Shape } from './model.js';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** Escapes text for an XML element; characters XML 1.0 cannot hold become U+FFFD. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>\r]|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '\r' ? '&#xD;' : '\ufffd',
  );
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
  let out: string[] = [DECLARATION, `<${operation}Response xmlns="${XML_NAMESPACE}">`, `<requestId>${escapeXml(requestId)}</requestId>`];
  let size = 0;
  if (outputShape && result && typeof result === 'object') {
    for (const [name, element, shapeName] of membersOf(shape(outputShape))) {
      const v = (result as Record<string, unknown>)[name];
      if (v === undefined || v === null) continue;
      if (!(v instanceof StreamedList)) {
        writeValue(out, element, shapeName, v);
        continue;
      }
      const s = shape(shapeName);
      if (s.type !== 'list') throw new Error(`${operation}.${name} is not a list and cannot be streamed`);
      const itemName = s.member!.locationName ?? 'member';
      let opened = false;
      for await (const batch of v.batches) {
        for (const item of batch) {
          if (item === undefined || item === null) continue;
          if (!opened) out.push(`<${element}>`);
          opened = true;
          const before = out.length;
          writeValue(out, itemName, s.member!.shape, item);
          for (let i = before; i < out.length; i++) size += out[i]!.length;
          if (size >= CHUNK_CHARS) {
            yield out.join('');
            out = [];
            size = 0;
          }
        }
      }
      out.push(opened ? `</${element}>` : `<${element}/>`);
    }
  }
  out.push(`</${operation}Response>`);
  yield out.join('');
}

export function serializeResult(operation: string, outputShape: string | undefined, result: unknown, requestId: string): string {
  const out: string[] = [DECLARATION, `<${operation}Response xmlns="${XML_NAMESPACE}">`, `<requestId>${escapeXml(requestId)}</requestId>`];
  if (outputShape && result && typeof result === 'object') writeMembers(out, shape(outputShape), result as Record<string, unknown>);
  out.push(`</${operation}Response>`);
  return out.join('');
}

/** Each structure's members as [member name, element name, shape name], worked out once per shape. */
const memberCache = new Map<Shape, [string, string, string][]>();
function membersOf(s: Shape): [string, string, string][] {
  let m = memberCache.get(s);
  if (!m) {
    m = Object.entries(s.members ?? {}).map(([name, ref]) => [name, xmlElementName(name, ref), ref.shape]);
    memberCache.set(s, m);
  }
  return m;
}

function writeMembers(out: string[], s: Shape, value: Record<string, unknown>): void {
  for (const [name, element, shapeName] of membersOf(s)) {
    const v = value[name];
    if (v === undefined || v === null) continue;
    writeValue(out, element, shapeName, v);
  }
}

function writeValue(out: string[], element: string, shapeName: string, v: unknown): void {
  const s = shape(shapeName);
  switch (s.type) {
    case 'structure': {
      const start = out.length;
      out.push(`<${element}>`);
      writeMembers(out, s, v as Record<string, unknown>);
      if (out.length === start + 1) out[start] = `<${element}/>`;
      else out.push(`</${element}>`);
      return;
    }
    case 'list': {
      const items = (v as unknown[]).filter((x) => x !== undefined && x !== null);
      if (!items.length) {
        out.push(`<${element}/>`);
        return;
      }
      const itemName = s.member!.locationName ?? 'member';
      out.push(`<${element}>`);
      for (const item of items) writeValue(out, itemName, s.member!.shape, item);
      out.push(`</${element}>`);
      return;
    }
    default: {
      const text = scalarText(s, v);
      out.push(text === '' ? `<${element}/>` : `<${element}>${escapeXml(text)}</${element}>`);
    }
  }
}

function scalarText(s: Shape, v: unknown): string {
  switch (s.type) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'timestamp':
      return (v instanceof Date ? v : new Date(v as string)).toISOString();
    case 'blob':
      return Buffer.isBuffer(v) ? v.toString('base64') : String(v);
    default:
      return String(v);
  }
}

export function serializeError(code: string, message: string, requestId: string): string {
  return (
    `${DECLARATION}<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
    `</Error></Errors><RequestID>${escapeXml(requestId)}</RequestID></Response>`
  );
}
