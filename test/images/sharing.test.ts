/**
 * Launch permissions, seen by both accounts: an image is private to its owner, then shared with one account,
 * then public, then revoked; at each step DescribeImages (plain, Owners, ExecutableUsers, ImageIds),
 * DescribeImageAttribute and RunInstances answer each account as AWS would. The noop backend: the rule is the
 * service's, the same for every backend (test/images/docker-policy.test.ts launches a shared capture for real).
 */
import assert from 'node:assert/strict';
import {
  DeregisterImageCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  ResetImageAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeImagesCommandInput,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { SECOND_ACCOUNT } from '../support/server.js';
import { useTestServer } from '../support/use-server.js';

const OWNER = '000000000000';
const OTHER = SECOND_ACCOUNT.accountId;

async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
    assert.equal(e.name, code);
    assert.equal(e.$metadata?.httpStatusCode, 400);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('image launch permissions, seen by two accounts', function () {
  // t.ec2 is the image's owner, t.other the second account.
  const t = useTestServer({
    beforeClose: async () => {
      for (const [ec2, id] of launched) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })).catch(() => undefined);
    },
  });
  let imageId: string;
  const launched: [EC2Client, string][] = [];

  before(async () => {
    imageId = (await t.ec2.send(new RegisterImageCommand({ Name: 'team-base', ImageLocation: 'noop:team-base' }))).ImageId!;
  });

  /** The ids of our image that `ec2` finds with these DescribeImages parameters. */
  const finds = async (ec2: EC2Client, input: DescribeImagesCommandInput = {}) =>
    ((await ec2.send(new DescribeImagesCommand(input))).Images ?? []).filter((i) => i.ImageId === imageId);
  const sees = async (ec2: EC2Client, input: DescribeImagesCommandInput = {}) => (await finds(ec2, input)).length === 1;
  const launch = async (ec2: EC2Client) => {
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    launched.push([ec2, id]);
    return id;
  };
  const permissions = async () => (await t.ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }))).LaunchPermissions;

  it('is private to its owner at first', async () => {
    const [img] = await finds(t.ec2, { Owners: ['self'] });
    assert.equal(img?.Public, false);
    assert.equal(img?.OwnerId, OWNER);
    assert.deepEqual(await permissions(), []);
    await launch(t.ec2);

    assert.equal(await sees(t.other), false);
    assert.equal(await sees(t.other, { Owners: [OWNER] }), false);
    assert.equal(await sees(t.other, { ExecutableUsers: ['self'] }), false);
    await rejects(t.other.send(new DescribeImagesCommand({ ImageIds: [imageId] })), 'InvalidAMIID.NotFound');
    await rejects(t.other.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 })), 'AuthFailure', new RegExp(`Not authorized for images: \\[${imageId}\\]`));
    await rejects(t.other.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' })), 'InvalidAMIID.NotFound');
    await rejects(t.other.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: OTHER }] } })), 'InvalidAMIID.NotFound');
    // An id that exists nowhere is still NotFound for RunInstances.
    await rejects(t.other.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1 })), 'InvalidAMIID.NotFound');
  });

  it('refuses bad items and answers DryRun without sharing', async () => {
    await rejects(t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: 'someone' }] } })), 'InvalidAMIAttributeItemValue');
    await rejects(t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ Group: 'friends' as 'all' }] } })), 'InvalidAMIAttributeItemValue');
    await assert.rejects(
      t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: OTHER }] }, DryRun: true })),
      { name: 'DryRunOperation' },
    );
    assert.deepEqual(await permissions(), []);
  });

  it('once shared with one account, that account sees it and launches it; it cannot change or read who it is shared with', async () => {
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: OTHER }] } }));
    assert.deepEqual(await permissions(), [{ UserId: OTHER }]);
    assert.ok(await sees(t.ec2, { ExecutableUsers: [OTHER] }), 'the owner finds what it shared with that account');
    assert.equal(await sees(t.ec2, { ExecutableUsers: ['self'] }), false, 'its own image is not shared with itself');

    const [img] = await finds(t.other);
    assert.deepEqual([img?.OwnerId, img?.Public], [OWNER, false]);
    assert.ok(await sees(t.other, { Owners: [OWNER] }));
    assert.ok(await sees(t.other, { ExecutableUsers: ['self'] }));
    assert.equal(await sees(t.other, { ExecutableUsers: ['all'] }), false, 'not public');
    assert.equal(await sees(t.other, { Owners: ['self'] }), false, 'not its own');
    const id = await launch(t.other);
    const inst = (await t.other.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    assert.equal(inst.ImageId, imageId);

    await rejects(t.other.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' })), 'AuthFailure');
    await rejects(t.other.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ Group: 'all' }] } })), 'AuthFailure');
    await rejects(t.other.send(new ResetImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' })), 'AuthFailure');
    await rejects(t.other.send(new DeregisterImageCommand({ ImageId: imageId })), 'AuthFailure');
    const described = await t.other.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }));
    assert.equal(described.ImageId, imageId, 'an account that may launch the image reads its other attributes');
  });

  it('once public (the Attribute form), every account sees it as public', async () => {
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission', OperationType: 'add', UserGroups: ['all'] }));
    assert.deepEqual(await permissions(), [{ Group: 'all' }, { UserId: OTHER }]);
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Remove: [{ UserId: OTHER }] } }));
    assert.deepEqual(await permissions(), [{ Group: 'all' }]);
    const [img] = await finds(t.other, { ExecutableUsers: ['all'] });
    assert.equal(img?.Public, true);
    assert.equal(await sees(t.other, { ExecutableUsers: ['self'] }), false, 'no longer shared with it by name');
    assert.ok(await sees(t.other));
    await launch(t.other);
  });

  it('once revoked, the other account neither sees nor launches it; what it launched keeps running', async () => {
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Remove: [{ Group: 'all' }] } }));
    assert.deepEqual(await permissions(), []);
    assert.equal((await finds(t.ec2, { Owners: ['self'] }))[0]?.Public, false);
    assert.equal(await sees(t.other), false);
    assert.equal(await sees(t.other, { ExecutableUsers: ['all'] }), false);
    await rejects(t.other.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 })), 'AuthFailure');
    const mine = launched.filter(([ec2]) => ec2 === t.other).map(([, id]) => id);
    const states = (await t.other.send(new DescribeInstancesCommand({ InstanceIds: mine }))).Reservations!.flatMap((r) => r.Instances!.map((i) => i.State?.Name));
    assert.ok(states.every((st) => st === 'pending' || st === 'running'), states.join(','));
    await launch(t.ec2);
  });

  it('ResetImageAttribute makes it private and shared with no one', async () => {
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ UserId: OTHER }, { Group: 'all' }] } }));
    assert.ok(await sees(t.other));
    await t.ec2.send(new ResetImageAttributeCommand({ ImageId: imageId, Attribute: 'launchPermission' }));
    assert.deepEqual(await permissions(), []);
    assert.equal(await sees(t.other), false);
    await rejects(t.ec2.send(new ResetImageAttributeCommand({ ImageId: imageId, Attribute: 'description' as 'launchPermission' })), 'InvalidParameterValue');
  });

  it('changes the description; nobody changes a built-in image', async () => {
    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, Description: { Value: 'the team base' } }));
    const d = await t.ec2.send(new DescribeImageAttributeCommand({ ImageId: imageId, Attribute: 'description' }));
    assert.equal(d.Description?.Value, 'the team base');
    const builtin = (await t.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0]!;
    await rejects(t.ec2.send(new ModifyImageAttributeCommand({ ImageId: builtin.ImageId, LaunchPermission: { Remove: [{ Group: 'all' }] } })), 'AuthFailure');
    assert.equal((await t.other.send(new DescribeImagesCommand({ ImageIds: [builtin.ImageId!] }))).Images![0]!.Public, true);
  });
});
