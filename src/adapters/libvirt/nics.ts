import { setTimeout as sleep } from 'node:timers/promises';
import { renderInterfaceXml, type InterfaceParams } from './templates.js';
import type { Virsh } from './virsh.js';

/**
 * A domain's network interfaces made to match a list (one NIC per attached ENI), by MAC: the missing ones
 * attached (`virsh attach-device` of the interface template), the others detached (`virsh detach-interface
 * --mac`), in the persistent definition and, when `live`, in the running guest too (PCI hot-plug; the guest's
 * kernel sees a new virtio NIC, and lets go of a removed one through ACPI).
 */

/** The MAC addresses of a domain XML's `<interface>` elements, in order (lower case). */
export function interfaceMacs(xml: string): string[] {
  return (xml.match(/<interface\b[\s\S]*?<\/interface>/g) ?? []).flatMap((i) => {
    const m = /<mac address=['"]([0-9a-fA-F:]{17})['"]/.exec(i);
    return m ? [m[1]!.toLowerCase()] : [];
  });
}

export async function setDomainNics(virsh: Virsh, name: string, wanted: InterfaceParams[], live: boolean, waitMs = 30_000): Promise<void> {
  const want = wanted.map((w) => ({ ...w, mac: w.mac.toLowerCase() }));
  const removedLive: string[] = [];
  // The running guest first: a failure there leaves the definition as it was.
  for (const scope of live ? (['--live', '--config'] as const) : (['--config'] as const)) {
    const xml = (await virsh.run(scope === '--config' ? ['dumpxml', '--inactive', name] : ['dumpxml', name])).stdout;
    const have = interfaceMacs(xml);
    for (const w of want) {
      if (have.includes(w.mac)) continue;
      await virsh.withXmlFile(renderInterfaceXml(w), (path) => virsh.run(['attach-device', name, path, scope]));
    }
    for (const mac of have) {
      if (want.some((w) => w.mac === mac)) continue;
      await virsh.run(['detach-interface', name, 'bridge', '--mac', mac, scope]);
      if (scope === '--live') removedLive.push(mac);
    }
  }
  // A live unplug completes when the guest has let go of the device.
  const deadline = Date.now() + waitMs;
  while (removedLive.length) {
    const still = interfaceMacs((await virsh.run(['dumpxml', name])).stdout).filter((m) => removedLive.includes(m));
    if (!still.length) return;
    if (Date.now() > deadline) throw new Error(`the guest of ${name} did not release its interface ${still.join(', ')}`);
    await sleep(200);
  }
}
