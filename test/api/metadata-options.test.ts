import assert from 'node:assert/strict';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  ModifyInstanceMetadataOptionsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

describe('instance metadata options (RunInstances, ModifyInstanceMetadataOptions, DescribeInstances) and who asks', () => {
  let ami: string;
  const t = useTestServer();
  before(async () => {
    ami = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
  });

  const options = async (id: string) => (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.MetadataOptions;

  it('shows AWS\'s defaults, honours RunInstances MetadataOptions, and ModifyInstanceMetadataOptions changes them', async () => {
    const plain = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    assert.deepEqual(plain.MetadataOptions, { State: 'applied', HttpTokens: 'optional', HttpPutResponseHopLimit: 1, HttpEndpoint: 'enabled', HttpProtocolIpv6: 'disabled', InstanceMetadataTags: 'disabled' });
    const strict = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1, MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 2, InstanceMetadataTags: 'enabled' } }))).Instances![0]!;
    assert.deepEqual(await options(strict.InstanceId!), { State: 'applied', HttpTokens: 'required', HttpPutResponseHopLimit: 2, HttpEndpoint: 'enabled', HttpProtocolIpv6: 'disabled', InstanceMetadataTags: 'enabled' });

    const r = await t.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: plain.InstanceId!, HttpEndpoint: 'disabled', HttpTokens: 'required' }));
    assert.equal(r.InstanceId, plain.InstanceId);
    assert.equal(r.InstanceMetadataOptions?.State, 'pending');
    assert.equal(r.InstanceMetadataOptions?.HttpEndpoint, 'disabled');
    const after = await options(plain.InstanceId!);
    assert.deepEqual(after, { State: 'applied', HttpTokens: 'required', HttpPutResponseHopLimit: 1, HttpEndpoint: 'disabled', HttpProtocolIpv6: 'disabled', InstanceMetadataTags: 'disabled' });

    // What the metadata service then serves to whoever asks from that instance's (VPC, address).
    const seen = await t.s.services.metadata.byAddress(plain.VpcId!, plain.PrivateIpAddress!);
    assert.equal(seen?.instanceId, plain.InstanceId);
    assert.equal(seen?.options.httpEndpoint, 'disabled');
    assert.equal(seen?.subnetId, plain.SubnetId);
    assert.equal(await t.s.services.metadata.byAddress('vpc-0fffffffffffffff0', plain.PrivateIpAddress!), undefined, 'another VPC: nobody');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [plain.InstanceId!, strict.InstanceId!] }));
  });

  it('refuses bad values as AWS does, before launching anything', async () => {
    for (const MetadataOptions of [{ HttpPutResponseHopLimit: 65 }, { HttpTokens: 'sometimes' as 'required' }]) {
      await assert.rejects(t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1, MetadataOptions })), (e: Error) => e.name === 'InvalidParameterValue');
    }
    await assert.rejects(t.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: 'i-0fffffffffffffff0', HttpTokens: 'required' })), (e: Error) => e.name === 'InvalidInstanceID.NotFound');
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await assert.rejects(t.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpPutResponseHopLimit: 0 })), (e: Error) => e.name === 'InvalidParameterValue');
    await assert.rejects(t.ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpTokens: 'required', DryRun: true })), (e: Error) => e.name === 'DryRunOperation');
    assert.equal((await options(id))?.HttpTokens, 'optional', 'a DryRun changes nothing');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});
