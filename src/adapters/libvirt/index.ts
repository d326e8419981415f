/**
 * The libvirt compute adapter: EC2 instances as libvirt/QEMU virtual machines.
 * Host setup: scripts/setup-libvirt.sh (packages, daemons, the test VM image).
 */
export { LibvirtComputeBackend, DomainNotFoundError, mapDomainState, tapName, type LibvirtOptions } from './backend.js';
export { parseImageRef, formatImageRef, type ImageRef } from './imageref.js';
export { renderDomainXml, renderDiskXml, renderInterfaceXml, METADATA_NAMESPACE } from './templates.js';
export { screenshotToPng, encodePng, decodePpm } from './png.js';
