import type { Sandbox, VmInterface } from './network.js';

/**
 * ComputeBackend: the port through which the instance service turns an EC2 instance into something real
 * (a Docker container, a libvirt domain, or nothing at all for the noop adapter).
 *
 * Rules every adapter keeps:
 * - Every backend object carries the EC2 instance id, the account id and the installation's cloud id (Docker
 *   labels, libvirt metadata), so that `list()` can reconcile records with what exists on the host after a
 *   crash, and never sees the objects of another installation sharing the host.
 * - A method that cannot do what it says throws; it never returns as if it had worked.
 * - Names that reach a host command are validated by the adapter (see src/adapters/exec).
 */

/**
 * Thrown by an adapter when the host cannot place an instance for a reason that is not a fault: its address
 * range is taken on the host by another account's or another installation's network, the host lacks the
 * memory ... The instance service reports it as AWS reports a launch it cannot place
 * (`Server.InsufficientInstanceCapacity`), with this message, instead of as an internal error.
 */
export class HostCapacityError extends Error {
  override readonly name = 'HostCapacityError';
}

import type { DiskExport } from './storage.js';

/** An EBS volume to plug into an instance: its export (from the storage backend) and the name the user asked for. */
export interface VolumeAttachment {
  volumeId: string;
  /** /dev/sdf, /dev/xvdf ...: Docker makes both names; libvirt's guest finds the disk by its serial, the volume id without its hyphen (as on Nitro) */
  deviceName: string;
  export: DiskExport;
}

/**
 * What the backend reports of an instance's real state. `pending`: the object exists but does not run and will
 * not without a push from `start` (a Docker container created and never started, a paused container or domain).
 * `stopping`: on its way down by itself. A domain defined and never started is `stopped`.
 */
export type BackendState = 'pending' | 'running' | 'stopping' | 'stopped' | 'missing';

export interface NetworkAttachment {
  /** EC2 subnet id, e.g. subnet-0123456789abcdef0 */
  subnetId: string;
  /** EC2 VPC id */
  vpcId: string;
  /** The subnet's IPv4 CIDR, e.g. 172.31.0.0/20 */
  cidr: string;
  /** The VPC's IPv4 CIDR, e.g. 172.31.0.0/16: instances of every subnet in it reach each other */
  vpcCidr: string;
  /** The gateway (the subnet's first usable address, as the VPC router is on AWS) */
  gateway: string;
  /** The primary private IPv4 address the instance must have */
  privateIp: string;
  /** MAC address chosen by the service (stable across stop/start) */
  macAddress: string;
}

/**
 * A network interface (ENI) the network backend plugs into the instance's sandbox (see NetworkBackend). With
 * `nics` set, the compute backend makes no network of its own: a container starts with no network (its
 * sandbox, the netns of its pid, is plugged afterwards), a VM gets one `<interface>` per NIC as `vm` says.
 */
export interface NicSpec {
  eniId: string;
  deviceIndex: number;
  mac: string;
  /** The primary private IP first */
  ips: string[];
  subnetCidr: string;
  gateway: string;
  /** VMs: the bridge, tap name and OVS interface id, from NetworkBackend.vmInterface */
  vm?: VmInterface;
}

export interface InstanceSpec {
  instanceId: string;
  accountId: string;
  /** The backend's own reference of the image: a Docker image reference, a libvirt volume name ... */
  imageRef: string;
  vcpus: number;
  memoryMiB: number;
  /** The EC2 instance type (t3.micro ...), which a VM's firmware names as its product as EC2's does. */
  instanceType?: string;
  hostname: string;
  /**
   * A POSIX shell script to run once, at first boot, as root; its output must reach the console log.
   * Already rendered from the user's user data (a #! script, #cloud-config or multipart) by the service.
   * Undefined when there is nothing to run.
   */
  firstBootScript?: string;
  /** The raw user data, for backends that hand it to the guest's own cloud-init (NoCloud seed). */
  userData?: Buffer;
  /** OpenSSH public keys to install for the image's login user (and root). */
  publicKeys: string[];
  /**
   * The instance's addressing, for backends without `nics`: with NETWORK_BACKEND=noop (development) libvirt
   * still puts the VM on its shared bridge (br-thecloud) with this address; Docker ignores it (default bridge).
   */
  network?: NetworkAttachment;
  /** The instance's ENIs, plugged by the network backend; when set, `network` is ignored. */
  nics?: NicSpec[];
  /** The guest's resolver configuration (its VPC's resolver and the private domain), with `nics`. */
  dns?: { nameservers: string[]; search: string[] };
  /** The root disk is this EBS volume (libvirt on LVM storage) rather than a disk of the backend's own. */
  rootDisk?: VolumeAttachment;
}

export interface BackendInstanceInfo {
  backendId: string;
  instanceId: string;
  accountId: string;
  state: BackendState;
}

export interface BackendImageInfo {
  /** The backend's reference for the image */
  ref: string;
  architecture: 'x86_64' | 'arm64';
  /** Size of the root device in GiB (at least 1) */
  sizeGiB: number;
  /**
   * The backend made a copy of the location for this image (a host file imported into its storage pool):
   * the copy is the cloud's, and deleteImage removes it once no image and no instance uses it.
   */
  copy?: boolean;
}

/**
 * What a RegisterImage location names, worked out from its text alone: nothing is read and nothing is pulled,
 * so that the image policy (src/services/images/policy.ts) decides before the backend touches anything.
 */
export type ImageSource =
  /**
   * A host file (a disk image the backend copies) or directory (a kernel image), `path` absolute as given.
   * `directoryFiles`: the names under a directory location that the image is read from; `directoryOnly`: the
   * location must be a directory.
   */
  | { kind: 'host-path'; path: string; directoryFiles: string[]; directoryOnly?: boolean }
  /** An image in a registry: `name` is the full `registry/path`, `location` the exact reference to inspect. */
  | { kind: 'registry'; name: string; location: string }
  /** A host image named only by its id (a Docker image id): no registry name to check. */
  | { kind: 'host-image'; location: string }
  /** One of the backend's own images or volumes (a captured image, a storage pool volume) by its backend name. */
  | { kind: 'backend-image'; location: string }
  /** Nothing on the host (the noop backend). */
  | { kind: 'virtual'; location: string };

export interface ConsoleInfo {
  /** e.g. vnc://127.0.0.1:5900, or undefined where the backend has no graphical console */
  vncUrl?: string;
}

export interface ComputeBackend {
  readonly name: 'docker' | 'libvirt' | 'noop';
  /**
   * Creates the instance's backend object (with its disks, seed, first-boot files), without starting it, and
   * returns the backend's id for it. A container's sandbox (the netns of its pid) exists only once it runs: ask
   * `sandbox` after `start`. Throws when an object for that instance exists already; leaves nothing behind
   * when it fails.
   */
  create(spec: InstanceSpec): Promise<{ backendId: string; sandbox?: Sandbox }>;
  /**
   * Makes the object run, whatever it is now: created and never started, stopped, paused (resumed). Running
   * already is fine.
   */
  start(backendId: string): Promise<void>;
  /** Graceful stop (SIGTERM / ACPI) then a hard stop after a timeout; `force` stops at once. Stopped is fine. */
  stop(backendId: string, opts: { force: boolean }): Promise<void>;
  reboot(backendId: string): Promise<void>;
  /** Removes the backend object and everything it owns (disks, seeds). Idempotent: a missing object is fine. */
  destroy(backendId: string): Promise<void>;
  state(backendId: string): Promise<BackendState>;
  /** Everything on the host that carries this installation's labels/metadata (its cloud id). */
  list(): Promise<BackendInstanceInfo[]>;
  /** This installation's object for one instance, whether or not its id was ever recorded. */
  find(instanceId: string): Promise<BackendInstanceInfo | undefined>;
  /** The console (serial/stdout) output so far, as text. */
  consoleOutput(backendId: string): Promise<string>;
  /** A PNG or JPEG screenshot of the graphical console, where the backend has one. */
  consoleScreenshot?(backendId: string): Promise<Buffer>;
  consoleInfo?(backendId: string): Promise<ConsoleInfo>;
  /** Applies a new vCPU and memory size to a stopped instance. */
  resize(backendId: string, vcpus: number, memoryMiB: number): Promise<void>;
  /** What a location names, from its text alone (see ImageSource). Throws a TypeError on a malformed one. */
  parseImageLocation(location: string): ImageSource;
  /**
   * Host directories that hold this backend's own files (its storage pool, console logs, its daemon's state):
   * never importable as an image, whatever the image policy allows. Never throws.
   */
  ownDirectories(): Promise<string[]>;
  /**
   * Looks up (and for Docker, pulls where a registry is reachable) an image the user registers. Only called
   * with a location the image policy admitted.
   */
  inspectImage(location: string): Promise<BackendImageInfo>;
  /** Makes a new image from an instance (docker commit / copy of the root disk). */
  captureImage(backendId: string, imageId: string): Promise<BackendImageInfo>;
  /** Removes an image made by captureImage. Idempotent. */
  deleteImage(ref: string): Promise<void>;
  /**
   * Where the network backend plugs a running instance's NICs (spec.nics): a container's network namespace, by
   * its pid (new at every start). Undefined when it is not running. Backends whose NICs the hypervisor plugs
   * (libvirt: `ovs-port` sandboxes named by NetworkBackend.vmInterface) do not implement it.
   */
  sandbox?(backendId: string): Promise<Sandbox | undefined>;
  /**
   * Backends whose NICs the hypervisor plugs (libvirt): makes the instance's network interfaces exactly `nics`
   * (matched by MAC; the others removed), in its persistent definition and, when it runs, live (hot-plug: a new
   * NIC's tap joins its bridge before this returns; a removed one is gone from the guest when it returns).
   * Idempotent.
   */
  setNics?(backendId: string, nics: NicSpec[]): Promise<void>;
  /**
   * Plugs a volume into the instance: live when it runs (no restart), and at every later start. Idempotent for
   * the same volume and device name; an error when the device name is taken or the volume is attached elsewhere.
   */
  attachVolume(backendId: string, attachment: VolumeAttachment): Promise<void>;
  /** Unplugs the volume and releases whatever the host held for it (loop device, NBD connection). Idempotent. */
  detachVolume(backendId: string, volumeId: string): Promise<void>;
  /**
   * Backends whose root disk can be an EBS volume (libvirt): writes the image's root disk contents into `target`
   * (an exported image disk of at least the image's size). Absent where the root is not a disk (Docker).
   */
  fillRootDisk?(imageRef: string, target: DiskExport): Promise<void>;
  /**
   * Backends whose root disk is an EBS volume (libvirt): makes `disk` the stopped instance's root disk (boot disk,
   * vda) in place of the one it has, in its persistent definition; the next start boots from it (CreateReplaceRootVolumeTask).
   */
  replaceRootDisk?(backendId: string, disk: VolumeAttachment): Promise<void>;
  /** For `doctor`: is the host dependency reachable? Never throws. */
  probe(): Promise<ProbeResult>;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/**
 * For `doctor`: what on the host a The Cloud installation made. `installation` is the cloud id the object carries,
 * or '' when it carries none (made before installation ids, or by an adapter that does not write one); `owner`
 * names the EC2 resource it was made for (an instance, subnet or VPC id), so that objects without an installation
 * id can still be told apart by whether this installation's records know that resource.
 */
export interface HostObject {
  kind: 'docker-container' | 'docker-network' | 'docker-boot-dir' | 'libvirt-domain' | 'ovs-bridge';
  name: string;
  installation: string;
  owner: string;
  detail: string;
}

/** Lists and removes host objects of any installation (doctor only: the server never removes another's). */
export interface HostInventory {
  readonly kind: string;
  objects(): Promise<HostObject[]>;
  remove(o: HostObject): Promise<void>;
}
