import { defineHandler } from '../../server/registry.js';
import { column, constant, isoTime, sqlText, text, type Resource, type Sql, type Tag } from '../../describe/index.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { imageScopeConditions, imageVisibleTo, type ImageRow } from '../../db/repositories/images.js';
import { describeScope } from '../../services/images/sharing.js';
import { tagsFromSpecs, tagSetOrNone } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = ImageRow & { tags: Tag[] };

/** DescribeImages over the images table: the images the caller sees (the image repository's one rule), not deregistered. */
export const imageResource: Resource<Row> = {
  from: 'images',
  id: 'id',
  scope: (c) => sqlText((param) => `r.state <> 'deregistered' AND ${imageVisibleTo(param(c.accountId), 'r')}`),
  tags: { type: 'image' },
  filters: {
    'image-id': column('id'),
    name: column('name'),
    description: column('description'),
    state: column('state'),
    'owner-id': text('r.owner_id::text'),
    'owner-alias': column('owner_alias'),
    architecture: column('architecture'),
    'is-public': text('r.is_public::text'),
    'image-type': constant('machine'),
    'root-device-type': constant('ebs'),
    'root-device-name': column('root_device_name'),
    'virtualization-type': constant('hvm'),
    hypervisor: constant('xen'),
    'platform-details': constant('Linux/UNIX'),
    'manifest-location': column('image_location'),
    'creation-date': text(isoTime('r.created_at')),
    'block-device-mapping.device-name': column('root_device_name'),
    'block-device-mapping.volume-size': text('r.size_gib::text'),
  },
  notFound: (ids) => new Ec2Error('InvalidAMIID.NotFound', `The image id '[${ids.join(', ')}]' does not exist`),
  maxResults: { min: 5, max: 1000 },
};

/**
 * Owners and ExecutableUsers narrow the images before ids and filters (an id outside them is NotFound), as the
 * image service resolves them (describeScope) and the image repository writes them in SQL.
 */
export function ownersAndUsers(input: Ec2.DescribeImagesRequest, accountId: string): Sql | undefined {
  const scope = describeScope(accountId, input.Owners, input.ExecutableUsers);
  const conds = sqlText((param) => imageScopeConditions(scope, param(accountId), param, 'r').join(' AND '));
  return scope.owners || scope.executableBy ? conds : undefined;
}

export function toImage(i: Row): Ec2.Image {
  return {
    ImageId: i.id,
    ImageLocation: i.image_location ?? `${i.owner_id.trim()}/${i.name}`,
    State: i.state,
    OwnerId: i.owner_id.trim(),
    ImageOwnerAlias: i.owner_alias ?? undefined,
    CreationDate: i.created_at.toISOString(),
    Public: i.is_public,
    Architecture: i.architecture,
    ImageType: 'machine',
    Name: i.name,
    Description: i.description ?? undefined,
    RootDeviceType: 'ebs',
    RootDeviceName: i.root_device_name,
    BlockDeviceMappings: [
      { DeviceName: i.root_device_name, Ebs: { DeleteOnTermination: true, VolumeSize: i.size_gib, VolumeType: 'gp2', Encrypted: false } },
    ],
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    EnaSupport: true,
    SriovNetSupport: 'simple',
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    BootMode: 'legacy-bios',
    Tags: tagSetOrNone(i.tags),
    StateReason: i.state === 'failed' ? { Code: 'Client.ImageCaptureFailed', Message: 'The image could not be captured from the instance' } : undefined,
  };
}

export const describeImages = describeAction('DescribeImages', {
  resource: imageResource, idKind: 'image', ids: (i) => i.ImageIds, list: 'Images', render: toImage,
  check: (i, ctx) => ctx.services.images.checkSelection(ctx.accountId, { owners: i.Owners, executableUsers: i.ExecutableUsers }),
  where: (i, ctx) => ownersAndUsers(i, ctx.accountId),
});

export const registerImage = defineHandler('RegisterImage', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'image'));
    await ctx.services.images.checkNewName(ctx.accountId, input.Name);
    // The image policy, before DryRun and before anything is read or pulled.
    await ctx.services.images.checkLocation(ctx.accountId, input.ImageLocation);
  },
  async handle(input, ctx) {
    const img = await ctx.services.images.register(ctx.accountId, input.Name, input.ImageLocation, input.Description);
    const tags = tagsFromSpecs(input.TagSpecifications, 'image');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: img.id, type: 'image' }], tags);
    return { ImageId: img.id };
  },
});

export const createImage = defineHandler('CreateImage', {
  async validate(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
    if (row!.state !== 'running' && row!.state !== 'stopped') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not in the 'running' or 'stopped' state.`);
    }
    if (!row!.backend_id) throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not ready yet.`);
    await ctx.services.images.checkNewName(ctx.accountId, input.Name);
    validateTags(tagsFromSpecs(input.TagSpecifications, 'image'));
  },
  async handle(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [input.InstanceId]);
    const source = await ctx.services.images.visible(ctx.accountId, row!.image_id).catch(() => undefined);
    const img = await ctx.services.images.createFromInstance(ctx.accountId, input.Name, input.Description, row!.id, source?.architecture ?? 'x86_64', (imageId) =>
      ctx.services.instances.capture(row!, imageId, input.NoReboot ?? false),
    );
    const tags = tagsFromSpecs(input.TagSpecifications, 'image');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: img.id, type: 'image' }], tags);
    return { ImageId: img.id };
  },
});

export const deregisterImage = defineHandler('DeregisterImage', {
  async validate(input, ctx) {
    await ctx.services.images.owned(ctx.accountId, parseId('image', input.ImageId));
  },
  async handle(input, ctx) {
    await ctx.services.images.deregister(ctx.accountId, input.ImageId);
    return {};
  },
});

const IMAGE_ATTRIBUTES = ['description', 'kernel', 'ramdisk', 'launchPermission', 'productCodes', 'blockDeviceMapping', 'sriovNetSupport', 'bootMode', 'imdsSupport', 'lastLaunchedTime', 'deregistrationProtection', 'uefiData', 'tpmSupport'];

export const describeImageAttribute = defineHandler('DescribeImageAttribute', {
  async validate(input, ctx) {
    if (!IMAGE_ATTRIBUTES.includes(input.Attribute)) {
      throw new Ec2Error('InvalidRequest', `Value (${input.Attribute}) for parameter attribute is invalid. Unknown attribute.`);
    }
    await ctx.services.images.visible(ctx.accountId, parseId('image', input.ImageId));
    // Who an image is shared with is for its owner to know.
    if (input.Attribute === 'launchPermission') await ctx.services.images.owned(ctx.accountId, input.ImageId);
  },
  async handle(input, ctx) {
    const img = await ctx.services.images.visible(ctx.accountId, input.ImageId);
    const out: Ec2.ImageAttribute = { ImageId: img.id };
    switch (input.Attribute) {
      case 'description': out.Description = img.description ? { Value: img.description } : {}; break;
      case 'kernel': out.KernelId = {}; break;
      case 'ramdisk': out.RamdiskId = {}; break;
      case 'launchPermission': {
        const p = await ctx.services.images.launchPermissions(ctx.accountId, img.id);
        out.LaunchPermissions = [...(p.public ? [{ Group: 'all' }] : []), ...p.accounts.map((UserId) => ({ UserId }))];
        break;
      }
      case 'productCodes': out.ProductCodes = []; break;
      case 'blockDeviceMapping':
        out.BlockDeviceMappings = [{ DeviceName: img.root_device_name, Ebs: { DeleteOnTermination: true, VolumeSize: img.size_gib, VolumeType: 'gp2', Encrypted: false } }];
        break;
      case 'sriovNetSupport': out.SriovNetSupport = { Value: 'simple' }; break;
      case 'bootMode': out.BootMode = { Value: 'legacy-bios' }; break;
      case 'imdsSupport': out.ImdsSupport = {}; break;
      case 'lastLaunchedTime': out.LastLaunchedTime = {}; break;
      case 'deregistrationProtection': out.DeregistrationProtection = { Value: 'disabled' }; break;
      default: break;
    }
    return out;
  },
});

