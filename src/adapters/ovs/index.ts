/**
 * The Open vSwitch network adapter (the data plane of VPCs): see backend.ts for the design, flows.ts for the
 * OpenFlow pipeline, router.ts for the VPC router, ports.ts for plugging containers and VMs.
 */
export { OvsNetworkBackend, type OvsOptions } from './backend.js';
export { bridgeFlows, portBlocks, protocolMatches, ruleMatches } from './flows.js';
export { hostLinkAddresses } from './router.js';
export * as ovsNames from './names.js';
