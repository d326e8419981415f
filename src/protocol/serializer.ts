/**
 * Serializes an operation's result to EC2's XML, walking the output shape of the service model:
 * element names from locationName, lists as `<xSet><item>..</item></xSet>`, empty lists as empty elements,
 * `<requestId>` first under the root. Also the EC2 error envelope.
 */
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { shape, xmlElementName, XML_NAMESPACE, type Shape } from './model.js';

export function serializeResult(
  operation: string,
  outputShape: string | undefined,
  result: unknown,
  requestId: string,
): string {
  const doc = create({ version: '1.0', encoding: 'UTF-8' });
  const root = doc.ele(XML_NAMESPACE, `${operation}Response`);
  root.ele('requestId').txt(requestId);
  if (outputShape && result && typeof result === 'object') writeMembers(root, shape(outputShape), result as Record<string, unknown>);
  return doc.end({ prettyPrint: false });
}

function writeMembers(parent: XMLBuilder, s: Shape, value: Record<string, unknown>): void {
  for (const [name, ref] of Object.entries(s.members ?? {})) {
    const v = value[name];
    if (v === undefined || v === null) continue;
    writeValue(parent, xmlElementName(name, ref), ref.shape, v);
  }
}

function writeValue(parent: XMLBuilder, element: string, shapeName: string, v: unknown): void {
  const s = shape(shapeName);
  const el = parent.ele(element);
  switch (s.type) {
    case 'structure':
      writeMembers(el, s, v as Record<string, unknown>);
      return;
    case 'list': {
      const itemName = s.member!.locationName ?? 'member';
      for (const item of v as unknown[]) {
        if (item === undefined || item === null) continue;
        writeValue(el, itemName, s.member!.shape, item);
      }
      return;
    }
    default:
      el.txt(scalarText(s, v));
  }
}

function scalarText(s: Shape, v: unknown): string {
  switch (s.type) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'timestamp': {
      const d = v instanceof Date ? v : new Date(v as string);
      return d.toISOString();
    }
    case 'blob':
      return Buffer.isBuffer(v) ? v.toString('base64') : String(v);
    default:
      return String(v);
  }
}

export function serializeError(code: string, message: string, requestId: string): string {
  return create({ version: '1.0', encoding: 'UTF-8' })
    .ele('Response')
    .ele('Errors')
    .ele('Error')
    .ele('Code').txt(code).up()
    .ele('Message').txt(message).up()
    .up()
    .up()
    .ele('RequestID').txt(requestId).up()
    .end({ prettyPrint: false });
}
