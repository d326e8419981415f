import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import type { Virsh } from './virsh.js';

/**
 * Which libvirt domain type this host can run: 'kvm' only where hardware virtualisation really works, else
 * 'qemu' (TCG emulation, slower but everywhere). libvirt alone is not a reliable judge: on a VM whose
 * hypervisor exposes /dev/kvm without the CPU's vmx/svm flags, `virsh domcapabilities --virttype kvm` answers
 * yet guests hang at boot. So kvm needs all three: the CPU flag, a usable /dev/kvm, and libvirt's agreement.
 * LIBVIRT_DOMAIN_TYPE=kvm|qemu overrides the probe.
 */
export async function detectDomainType(virsh: Virsh, override = process.env.LIBVIRT_DOMAIN_TYPE): Promise<'kvm' | 'qemu'> {
  if (override === 'kvm' || override === 'qemu') return override;
  if (override) throw new Error(`LIBVIRT_DOMAIN_TYPE must be kvm or qemu, not ${override}`);
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) return 'qemu';
  const kvmOpens = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (!kvmOpens) return 'qemu';
  const caps = await virsh.run(['domcapabilities', '--virttype', 'kvm'], { allowFailure: true });
  return caps.exitCode === 0 && /<domain>kvm<\/domain>/.test(caps.stdout) ? 'kvm' : 'qemu';
}
