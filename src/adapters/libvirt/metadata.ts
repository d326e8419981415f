import { METADATA_NAMESPACE } from './templates.js';
import type { Virsh } from './virsh.js';

/**
 * Every domain this adapter defines carries <thecloud:instance xmlns:thecloud="https://thecloud.dev/libvirt/1">
 * with the EC2 instance id, account id and image reference (see templates/domain.xml), so that list() can
 * reconcile the database with what exists on the host after a crash.
 */
export interface DomainMetadata {
  instanceId: string;
  accountId: string;
  /** '' for domains made without an installation id */
  cloudId: string;
  imageRef: string;
}

const unescapeXml = (s: string): string =>
  s.replace(/&(lt|gt|amp|apos|quot|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
    if (e[0] !== '#') return named[e.toLowerCase()]!;
    return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
  });

/** Parses the element `virsh metadata <domain> <namespace>` prints (libvirt may drop or change the prefix). */
export function parseMetadata(xml: string): DomainMetadata | undefined {
  const field = (name: string): string | undefined => {
    const m = new RegExp(`<(?:[\\w.-]+:)?${name}>([^<]*)</(?:[\\w.-]+:)?${name}>`).exec(xml);
    return m ? unescapeXml(m[1]!) : undefined;
  };
  const instanceId = field('instance-id');
  const accountId = field('account-id');
  if (instanceId === undefined || accountId === undefined) return undefined;
  return { instanceId, accountId, cloudId: field('cloud-id') ?? '', imageRef: field('image-ref') ?? '' };
}

/** The domain's metadata, or undefined when it has none of ours (a domain someone else made) or is gone. */
export async function readMetadata(virsh: Virsh, domain: string): Promise<DomainMetadata | undefined> {
  const r = await virsh.run(['metadata', domain, METADATA_NAMESPACE], { allowFailure: true });
  return r.exitCode === 0 ? parseMetadata(r.stdout) : undefined;
}
