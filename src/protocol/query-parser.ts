/**
 * Turns the flat EC2 query parameters (`Filter.1.Name=...&Filter.1.Value.1=...`) into a typed input object,
 * walking the operation's input shape in the service model. Validation done here: required members
 * (MissingParameter), scalar types (InvalidParameterValue naming the parameter), and parameters that the
 * operation does not have (UnknownParameter).
 */
import { invalidParameterValue, missingParameter, unknownParameter } from '../errors/index.js';
import { queryWireName, shape, type Shape } from './model.js';

export type Params = Map<string, string>;

/** Parameters that belong to the envelope (action, version, presigned SigV4), not to the operation. */
const ENVELOPE = /^(Action|Version|X-Amz-[A-Za-z-]+|AWSAccessKeyId|Signature|SignatureMethod|SignatureVersion|Timestamp|Expires|SecurityToken)$/;

export function parseInput(inputShape: string | undefined, params: Params): Record<string, unknown> {
  const used = new Set<string>();
  const out = inputShape ? (parseStructure(shape(inputShape), '', params, used, true) ?? {}) : {};
  for (const key of params.keys()) {
    if (!used.has(key) && !ENVELOPE.test(key)) throw unknownParameter(key.split('.')[0]!);
  }
  return out;
}

function hasPrefix(params: Params, prefix: string): boolean {
  for (const k of params.keys()) if (k === prefix || k.startsWith(prefix + '.')) return true;
  return false;
}

function parseStructure(
  s: Shape,
  prefix: string,
  params: Params,
  used: Set<string>,
  top = false,
): Record<string, unknown> | undefined {
  if (!top && !hasPrefix(params, prefix)) return undefined;
  const out: Record<string, unknown> = {};
  const required = new Set(s.required ?? []);
  for (const [name, ref] of Object.entries(s.members ?? {})) {
    const wire = (prefix ? prefix + '.' : '') + queryWireName(name, ref);
    const value = parseValue(ref.shape, wire, params, used);
    if (value === undefined) {
      if (required.has(name)) throw missingParameter(wire);
      continue;
    }
    out[name] = value;
  }
  return out;
}

function parseValue(shapeName: string, wire: string, params: Params, used: Set<string>): unknown {
  const s = shape(shapeName);
  switch (s.type) {
    case 'structure':
      return parseStructure(s, wire, params, used);
    case 'list':
      return parseList(s, wire, params, used);
    case 'map':
      // The EC2 model has no map in any request shape; refuse rather than guess.
      throw new Error(`map shapes are not supported in requests (${wire})`);
    default: {
      const raw = params.get(wire);
      if (raw === undefined) return undefined;
      used.add(wire);
      return parseScalar(s, wire, raw);
    }
  }
}

function parseList(s: Shape, wire: string, params: Params, used: Set<string>): unknown[] | undefined {
  const indices = new Set<number>();
  const re = new RegExp('^' + wire.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '\\.(\\d+)(?:\\.|$)');
  for (const k of params.keys()) {
    const m = re.exec(k);
    if (m) indices.add(Number(m[1]));
    else if (k === wire) throw invalidParameterValue(wire, params.get(k), 'Expected a list: use ' + wire + '.1, ' + wire + '.2, ...');
  }
  if (indices.size === 0) return undefined;
  const member = s.member!;
  return [...indices]
    .sort((a, b) => a - b)
    .map((i) => parseValue(member.shape, `${wire}.${i}`, params, used))
    .filter((v) => v !== undefined);
}

function parseScalar(s: Shape, wire: string, raw: string): unknown {
  switch (s.type) {
    case 'string':
      return raw;
    case 'integer':
    case 'long': {
      if (!/^-?\d+$/.test(raw.trim())) throw invalidParameterValue(wire, raw, 'Expected an integer.');
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) throw invalidParameterValue(wire, raw, 'The number is out of range.');
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
        throw invalidParameterValue(wire, raw, `It must be between ${s.min ?? '-inf'} and ${s.max ?? 'inf'}.`);
      }
      return n;
    }
    case 'double':
    case 'float': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw invalidParameterValue(wire, raw, 'Expected a number.');
      return n;
    }
    case 'boolean': {
      const v = raw.toLowerCase();
      if (v === 'true') return true;
      if (v === 'false') return false;
      throw invalidParameterValue(wire, raw, 'Expected true or false.');
    }
    case 'timestamp': {
      const d = /^\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
      if (Number.isNaN(d.getTime())) throw invalidParameterValue(wire, raw, 'Expected an ISO 8601 timestamp.');
      return d;
    }
    case 'blob': {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(raw.replace(/\s/g, ''))) throw invalidParameterValue(wire, raw, 'Expected base64.');
      return Buffer.from(raw, 'base64');
    }
    default:
      return raw;
  }
}

/** Reads a form body or query string into the flat parameter map (the last of repeated keys wins). */
export function paramsFromSearch(search: URLSearchParams): Params {
  const p: Params = new Map();
  for (const [k, v] of search) p.set(k, v);
  return p;
}
