import assert from 'node:assert/strict';
import {
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeNetworkInterfaceAttributeCommand,
  ResetNetworkInterfaceAttributeCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  ModifyInstanceAttributeCommand,
  ModifyNetworkInterfaceAttributeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';

/**
 * The source/destination check on the records (noop backends): an instance's is its primary interface's, changed
 * through either API and shown by every describe. Its effect on traffic (a NAT instance) is in edge-traffic.test.ts.
 */
describe('the source/destination check (ModifyInstanceAttribute / ModifyNetworkInterfaceAttribute SourceDestCheck)', () => {
  const t = useTestServer();
  const wait = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };

  it('is the primary interface\'s: turned off and on through either API, shown by DescribeInstances, the attribute and the interface', async () => {
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ ...wait, client: t.ec2 }, { InstanceIds: [id] });
    const seen = async () => {
      const i = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
      const eniId = i.NetworkInterfaces![0]!.NetworkInterfaceId!;
      const attr = (await t.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'sourceDestCheck' }))).SourceDestCheck!.Value;
      const eni = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces![0]!.SourceDestCheck;
      const eniAttr = (await t.ec2.send(new DescribeNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Attribute: 'sourceDestCheck' }))).SourceDestCheck!.Value;
      return { eniId, all: [i.SourceDestCheck, i.NetworkInterfaces![0]!.SourceDestCheck, attr, eni, eniAttr] };
    };
    const { eniId, all } = await seen();
    assert.deepEqual(all, [true, true, true, true, true], 'on by default');
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, SourceDestCheck: { Value: false } }));
    assert.deepEqual((await seen()).all, [false, false, false, false, false]);
    await t.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, SourceDestCheck: { Value: true } }));
    assert.deepEqual((await seen()).all, [true, true, true, true, true]);
    // The Attribute/Value form (aws ec2 modify-instance-attribute --attribute sourceDestCheck --value false).
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Attribute: 'sourceDestCheck', Value: 'false' }));
    assert.deepEqual((await seen()).all, [false, false, false, false, false]);
    await fails(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, Attribute: 'sourceDestCheck', Value: 'maybe' })), 'InvalidParameterValue');
    // ResetNetworkInterfaceAttribute puts it back on; the interface's other attributes through the same call.
    await t.ec2.send(new ResetNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, SourceDestCheck: 'sourceDestCheck' }));
    assert.deepEqual((await seen()).all, [true, true, true, true, true]);
    const attr = (a: string) => t.ec2.send(new DescribeNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eniId, Attribute: a as 'description' }));
    assert.deepEqual((await attr('attachment')).Attachment?.InstanceId, id);
    assert.deepEqual((await attr('groupSet')).Groups?.map((g) => g.GroupName), ['default']);
    assert.deepEqual((await attr('description')).Description, { Value: '' });
    await fails(attr('macAddress'), 'InvalidParameterValue');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ ...wait, client: t.ec2 }, { InstanceIds: [id] });
    await fails(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, SourceDestCheck: { Value: true } })), 'IncorrectInstanceState');
  });
});
