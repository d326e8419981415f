/** Every implemented action. A new action is a handler file in its family and one entry here. */
import { Registry } from '../server/registry.js';
import { describeRegions, describeAvailabilityZones } from './regions/index.js';
import { describeAccountAttributes } from './account/index.js';
import { describeInstanceTypes } from './instance-types/index.js';
import { createTags, deleteTags, describeTags } from './tags/index.js';
import { describeVpcs } from './vpcs/index.js';
import { createVpc, deleteVpc, createDefaultVpc, describeVpcAttribute, modifyVpcAttribute } from './vpcs/mutations.js';
import { associateVpcCidrBlock, disassociateVpcCidrBlock } from './vpcs/cidr-blocks.js';
import { describeSubnets } from './subnets/index.js';
import { createSubnet, deleteSubnet, modifySubnetAttribute } from './subnets/mutations.js';
import { describeSecurityGroups } from './security-groups/index.js';
import { describeNetworkAcls } from './network-acls/index.js';
import { attachNetworkInterface, detachNetworkInterface } from './network-interfaces/attachments.js';
import { assignPrivateIpAddresses, unassignPrivateIpAddresses } from './network-interfaces/private-ips.js';
import { updateSecurityGroupRuleDescriptionsIngress, updateSecurityGroupRuleDescriptionsEgress, modifySecurityGroupRules } from './security-groups/descriptions.js';
import { describeDhcpOptions, createDhcpOptions, deleteDhcpOptions, associateDhcpOptions } from './dhcp-options/index.js';
import { createNetworkAcl, deleteNetworkAcl, createNetworkAclEntry, replaceNetworkAclEntry, deleteNetworkAclEntry, replaceNetworkAclAssociation } from './network-acls/mutations.js';
import { describeNetworkInterfaces, createNetworkInterface, deleteNetworkInterface, modifyNetworkInterfaceAttribute, describeNetworkInterfaceAttribute, resetNetworkInterfaceAttribute } from './network-interfaces/index.js';
import {
  createSecurityGroup,
  deleteSecurityGroup,
  authorizeSecurityGroupIngress,
  authorizeSecurityGroupEgress,
  revokeSecurityGroupIngress,
  revokeSecurityGroupEgress,
  describeSecurityGroupRules,
} from './security-groups/mutations.js';
import { describeInstances, describeInstanceStatus } from './instances/describe.js';
import { runInstances, startInstances, stopInstances, rebootInstances, terminateInstances } from './instances/lifecycle.js';
import {
  describeInstanceAttribute,
  modifyInstanceAttribute,
  getConsoleOutput,
  describeInstanceCreditSpecifications,
} from './instances/attributes.js';
import { getInstanceUefiData } from './instances/uefi.js';
import { modifyInstanceMetadataOptions } from './instances/metadata-options.js';
import { getConsoleScreenshot } from './instances/console.js';
import { describeImages, registerImage, createImage, deregisterImage, describeImageAttribute } from './images/index.js';
import { modifyImageAttribute, resetImageAttribute } from './images/attributes.js';
import { createVolume, describeVolumes, deleteVolume, attachVolume, detachVolume } from './volumes/index.js';
import { createSnapshot, describeSnapshots, deleteSnapshot, copySnapshot } from './volumes/snapshots.js';
import { createSnapshots } from './volumes/multi-snapshots.js';
import { describeSnapshotAttribute, modifySnapshotAttribute, resetSnapshotAttribute } from './volumes/snapshot-attributes.js';
import { modifyVolume, describeVolumesModifications } from './volumes/modify.js';
import { describeVolumeStatus, describeVolumeAttribute, modifyVolumeAttribute, enableVolumeIO } from './volumes/status.js';
import { createReplaceRootVolumeTask, describeReplaceRootVolumeTasks } from './volumes/root-replace.js';
import { describeRouteTables, createRouteTable, deleteRouteTable } from './route-tables/index.js';
import { associateRouteTable, disassociateRouteTable, replaceRouteTableAssociation } from './route-tables/associations.js';
import { createRoute, replaceRoute, deleteRoute } from './route-tables/routes.js';
import { describeInternetGateways, createInternetGateway, attachInternetGateway, detachInternetGateway, deleteInternetGateway } from './internet-gateways/index.js';
import { describeAddresses, allocateAddress, associateAddress, disassociateAddress, releaseAddress } from './addresses/index.js';
import { createKeyPair, importKeyPair, describeKeyPairs, deleteKeyPair } from './key-pairs/index.js';
import { describeNatGateways, createNatGateway, deleteNatGateway } from './nat-gateways/index.js';
import { describeAddressesAttribute, modifyAddressAttribute, resetAddressAttribute } from './addresses/attributes.js';

export function buildRegistry(): Registry {
  return new Registry().add(
    describeRegions,
    describeAvailabilityZones,
    describeAccountAttributes,
    describeInstanceTypes,
    createTags,
    deleteTags,
    describeTags,
    describeVpcs,
    describeSubnets,
    describeSecurityGroups,
    describeInstances,
    describeInstanceStatus,
    runInstances,
    startInstances,
    stopInstances,
    rebootInstances,
    terminateInstances,
    describeInstanceAttribute,
    modifyInstanceAttribute,
    getConsoleOutput,
    describeInstanceCreditSpecifications,
    getInstanceUefiData,
    modifyInstanceMetadataOptions,
    getConsoleScreenshot,
    describeImages,
    registerImage,
    createImage,
    deregisterImage,
    describeImageAttribute,
    modifyImageAttribute,
    resetImageAttribute,
    createKeyPair,
    importKeyPair,
    describeKeyPairs,
    deleteKeyPair,
    createVpc,
    associateVpcCidrBlock,
    disassociateVpcCidrBlock,
    deleteVpc,
    createDefaultVpc,
    describeVpcAttribute,
    modifyVpcAttribute,
    createSubnet,
    deleteSubnet,
    modifySubnetAttribute,
    createSecurityGroup,
    deleteSecurityGroup,
    authorizeSecurityGroupIngress,
    authorizeSecurityGroupEgress,
    revokeSecurityGroupIngress,
    revokeSecurityGroupEgress,
    describeSecurityGroupRules,
    describeNetworkInterfaces,
    createNetworkInterface,
    deleteNetworkInterface,
    modifyNetworkInterfaceAttribute,
    describeNetworkInterfaceAttribute,
    resetNetworkInterfaceAttribute,
    createVolume,
    describeVolumes,
    deleteVolume,
    attachVolume,
    detachVolume,
    createSnapshot,
    describeSnapshots,
    deleteSnapshot,
    describeVolumeStatus,
    describeVolumeAttribute,
    modifyVolumeAttribute,
    enableVolumeIO,
    createReplaceRootVolumeTask,
    describeReplaceRootVolumeTasks,
    modifyVolume,
    describeVolumesModifications,
    copySnapshot,
    createSnapshots,
    describeSnapshotAttribute,
    modifySnapshotAttribute,
    resetSnapshotAttribute,
    describeNetworkAcls,
    createNetworkAcl,
    deleteNetworkAcl,
    createNetworkAclEntry,
    replaceNetworkAclEntry,
    deleteNetworkAclEntry,
    replaceNetworkAclAssociation,
    describeDhcpOptions,
    createDhcpOptions,
    deleteDhcpOptions,
    associateDhcpOptions,
    attachNetworkInterface,
    detachNetworkInterface,
    assignPrivateIpAddresses,
    unassignPrivateIpAddresses,
    updateSecurityGroupRuleDescriptionsIngress,
    updateSecurityGroupRuleDescriptionsEgress,
    modifySecurityGroupRules,
    describeRouteTables,
    createRouteTable,
    deleteRouteTable,
    associateRouteTable,
    disassociateRouteTable,
    replaceRouteTableAssociation,
    createRoute,
    replaceRoute,
    deleteRoute,
    describeInternetGateways,
    createInternetGateway,
    attachInternetGateway,
    detachInternetGateway,
    deleteInternetGateway,
    describeAddresses,
    allocateAddress,
    associateAddress,
    disassociateAddress,
    releaseAddress,
    describeNatGateways,
    createNatGateway,
    deleteNatGateway,
    describeAddressesAttribute,
    modifyAddressAttribute,
    resetAddressAttribute,
  );
}
