import { instanceSuite } from './suite.js';
import assert from 'node:assert/strict';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeTagsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { startTestServer } from '../support/server.js';
import { sdk } from '../support/clients.js';
instanceSuite({ backend: 'noop', imageName: 'thecloud-noop', runsUserData: false, waitSeconds: 20, bootLine: '[noop] booting' });


describe('terminated instances', () => {
  it('stay visible as terminated, then disappear after the retention time', async () => {
    const s = await startTestServer({ COMPUTE_BACKEND: 'noop', THECLOUD_TERMINATED_RETENTION_SECONDS: '2', THECLOUD_RECONCILE_SECONDS: '1' });
    try {
      const ec2 = sdk(s.url);
      const ami = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
      const id = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1, TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'short-lived' }] }] }))).Instances![0]!.InstanceId!;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 20, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
      const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      assert.equal(d.Reservations![0]!.Instances![0]!.State?.Name, 'terminated');
      const end = Date.now() + 20_000;
      let gone = false;
      while (!gone && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500));
        gone = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] })).then(() => false, (e) => e.name === 'InvalidInstanceID.NotFound');
      }
      assert.ok(gone, 'the terminated instance is gone after its retention');
      const tags = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
      assert.equal(tags.Tags!.length, 0, 'and so are its tags');
    } finally {
      await s.close();
    }
  });
});

describe('instances in a region other than us-east-1', () => {
  it('are named <ip>.<region>.compute.internal, and the private-dns-name filter finds them by that name', async () => {
    const s = await startTestServer({ AWS_REGION: 'eu-west-1' });
    try {
      const ec2 = new EC2Client({ endpoint: s.url, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      const ami = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
      const inst = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
      assert.match(inst.PrivateDnsName!, /^ip-172-31-\d+-\d+\.eu-west-1\.compute\.internal$/);
      assert.equal(inst.Placement?.AvailabilityZone?.startsWith('eu-west-1'), true);
      const found = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'private-dns-name', Values: [inst.PrivateDnsName!] }] }));
      assert.deepEqual(found.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)), [inst.InstanceId]);
    } finally {
      await s.close();
    }
  });
});
