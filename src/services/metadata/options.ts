/**
 * An instance's metadata options (RunInstances MetadataOptions, ModifyInstanceMetadataOptions), with AWS's
 * defaults and checks. Stored as one jsonb column of the instance (migration 010); a key that is absent there
 * has its default, so instances launched before the column existed read as AWS's defaults.
 */
import { Ec2Error } from '../../errors/index.js';

export interface MetadataOptions {
  /** 'optional': IMDSv1 and v2; 'required': a session token (v2) on every request. */
  httpTokens: 'optional' | 'required';
  /** The IP TTL of the token PUT's response (1..64). Recorded and shown; see README (metadata service). */
  httpPutResponseHopLimit: number;
  httpEndpoint: 'enabled' | 'disabled';
  httpProtocolIpv6: 'enabled' | 'disabled';
  instanceMetadataTags: 'enabled' | 'disabled';
}

export const DEFAULT_METADATA_OPTIONS: Readonly<MetadataOptions> = Object.freeze({
  httpTokens: 'optional',
  httpPutResponseHopLimit: 1,
  httpEndpoint: 'enabled',
  httpProtocolIpv6: 'disabled',
  instanceMetadataTags: 'disabled',
});

/** What the API hands over (RunInstances' InstanceMetadataOptionsRequest, ModifyInstanceMetadataOptions). */
export interface MetadataOptionsInput {
  HttpTokens?: string;
  HttpPutResponseHopLimit?: number;
  HttpEndpoint?: string;
  HttpProtocolIpv6?: string;
  InstanceMetadataTags?: string;
}

const invalid = (name: string, value: unknown) => new Ec2Error('InvalidParameterValue', `Value (${String(value)}) for parameter ${name} is invalid.`);

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw invalid(name, value);
  return value as T;
}

/** Checks the input and returns the changed keys only (absent input keys are absent). -1 hop limit: no change. */
export function parseMetadataOptions(input: MetadataOptionsInput | undefined): Partial<MetadataOptions> {
  if (!input) return {};
  const out: Partial<MetadataOptions> = {};
  const tokens = oneOf('HttpTokens', input.HttpTokens, ['optional', 'required'] as const);
  if (tokens) out.httpTokens = tokens;
  const endpoint = oneOf('HttpEndpoint', input.HttpEndpoint, ['enabled', 'disabled'] as const);
  if (endpoint) out.httpEndpoint = endpoint;
  const ipv6 = oneOf('HttpProtocolIpv6', input.HttpProtocolIpv6, ['enabled', 'disabled'] as const);
  if (ipv6) out.httpProtocolIpv6 = ipv6;
  const tags = oneOf('InstanceMetadataTags', input.InstanceMetadataTags, ['enabled', 'disabled'] as const);
  if (tags) out.instanceMetadataTags = tags;
  const hop = input.HttpPutResponseHopLimit;
  if (hop !== undefined && hop !== -1) {
    if (!Number.isInteger(hop) || hop < 1 || hop > 64) throw invalid('HttpPutResponseHopLimit', hop);
    out.httpPutResponseHopLimit = hop;
  }
  return out;
}

/** The stored value (possibly partial or from an older row) with the defaults filled in. */
export function metadataOptionsOf(stored: unknown): MetadataOptions {
  const s = (stored && typeof stored === 'object' ? stored : {}) as Partial<MetadataOptions>;
  return { ...DEFAULT_METADATA_OPTIONS, ...s };
}

/** As DescribeInstances and ModifyInstanceMetadataOptions show them. */
export function metadataOptionsResponse(o: MetadataOptions, state: 'applied' | 'pending' = 'applied') {
  return {
    State: state,
    HttpTokens: o.httpTokens,
    HttpPutResponseHopLimit: o.httpPutResponseHopLimit,
    HttpEndpoint: o.httpEndpoint,
    HttpProtocolIpv6: o.httpProtocolIpv6,
    InstanceMetadataTags: o.instanceMetadataTags,
  };
}
