/**
 * Docker image references as the image policy sees them: the full name (registry and path, as Docker
 * resolves a short one: `busybox` is `docker.io/library/busybox`) and one exact reference to look up and
 * pull. The exact reference always has a tag or a digest: Docker reads a bare hexadecimal name as an image
 * id prefix, which would let a name reach an image no name was checked for.
 */
import type { ImageSource } from '../../ports/index.js';
import { CAPTURE_REPO, imageRef } from './names.js';

export interface DockerReference {
  /** registry/path, e.g. docker.io/library/busybox or 127.0.0.1:5000/thecloud/busybox */
  name: string;
  tag?: string;
  digest?: string;
}

export const DEFAULT_REGISTRY = 'docker.io';

/** Splits an already validated reference (see names.imageRef) into its normalized parts. */
export function parseReference(ref: string): DockerReference {
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  let rest = at >= 0 ? ref.slice(0, at) : ref;
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  let registry = DEFAULT_REGISTRY;
  let path = rest;
  // As Docker decides: the first component is a registry when it has a dot or a port, or is localhost.
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first === 'index.docker.io' ? DEFAULT_REGISTRY : first.toLowerCase();
    path = rest.slice(slash + 1);
  }
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  return { name: `${registry}/${path}`, tag, digest };
}

/** The exact reference: name, then the tag (latest when neither a tag nor a digest is given), then the digest. */
export function exactReference(r: DockerReference): string {
  const tag = r.tag ?? (r.digest ? undefined : 'latest');
  return `${r.name}${tag ? `:${tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

const CAPTURE_NAME = parseReference(CAPTURE_REPO).name;

/** ImageSource of a RegisterImage location on the Docker backend (`docker:` is optional). */
export function dockerImageSource(location: string): ImageSource {
  const ref = imageRef(location);
  if (/^sha256:[a-f0-9]{64}$/.test(ref)) return { kind: 'host-image', location: ref };
  const parsed = parseReference(ref);
  const exact = exactReference(parsed);
  if (parsed.name === CAPTURE_NAME) return { kind: 'backend-image', location: exact };
  return { kind: 'registry', name: parsed.name, location: exact };
}
