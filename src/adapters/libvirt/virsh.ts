import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertSafeName, CommandError, type RunResult, type Runner } from '../exec/index.js';

/** What libvirt says when a domain does not exist (virsh's messages, libvirt 8 to 10). */
const NOT_FOUND = /failed to get domain|Domain not found|no domain with matching/i;

export function isDomainNotFound(e: unknown): boolean {
  return e instanceof CommandError && NOT_FOUND.test(e.stderr);
}

/**
 * A domain name from a backend id (our domains are named by their instance id). virsh takes a domain argument as
 * an id, a UUID or a name, in that order: a number or a UUID would address some other domain, so neither passes.
 */
export function domainName(backendId: string): string {
  assertSafeName('instance', backendId);
  if (/^\d+$/.test(backendId) || /^[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}$/i.test(backendId)) {
    throw new TypeError(`${JSON.stringify(backendId)} would be read by virsh as a domain id or UUID`);
  }
  return backendId;
}

/** `virsh -c <uri> ...` through the project's runner; the caller validates names (assertSafeName) before. */
export class Virsh {
  constructor(
    readonly uri: string,
    private readonly runner: Runner,
  ) {}

  run(args: readonly string[], opts?: { timeoutMs?: number; allowFailure?: boolean }): Promise<RunResult> {
    return this.runner('virsh', ['-c', this.uri, ...args], opts);
  }

  /** The domain's state as virsh prints it ("running", "shut off" ...), or undefined when there is no such domain. */
  async domstate(name: string): Promise<string | undefined> {
    try {
      return (await this.run(['domstate', name])).stdout.trim().split('\n')[0]!.trim();
    } catch (e) {
      if (isDomainNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Runs a virsh command that takes an XML file (define, attach-device ...) on a temporary copy of `xml`. */
  async withXmlFile<T>(xml: string, fn: (path: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'thecloud-virsh-'));
    try {
      const path = join(dir, 'object.xml');
      await writeFile(path, xml, { mode: 0o600 });
      return await fn(path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  define(xml: string): Promise<RunResult> {
    return this.withXmlFile(xml, (path) => this.run(['define', path]));
  }
}
