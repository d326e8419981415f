import assert from 'node:assert/strict';
import {
  DescribeImagesCommand,
  DescribeInstanceCreditSpecificationsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

/** DescribeInstanceCreditSpecifications: burstable, not terminated instances, paged as AWS pages (noop backends). */
describe('DescribeInstanceCreditSpecifications', () => {
  const t = useTestServer();

  it('lists burstable live instances only, page by page', async () => {
    const imageId = (await t.ec2.send(new DescribeImagesCommand({ Owners: ['999999999999'] }))).Images![0]!.ImageId;
    const run = async (type: string, n: number) => (await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: n, MaxCount: n, InstanceType: type as never }))).Instances!.map((i) => i.InstanceId!);
    const t3 = await run('t3.micro', 6);
    const t2 = await run('t2.micro', 1);
    await run('m5.large', 1);
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [t3[5]!] }));
    await waitUntilInstanceTerminated({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [t3[5]!] });

    const first = await t.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ MaxResults: 5 }));
    assert.equal(first.InstanceCreditSpecifications!.length, 5);
    assert.ok(first.NextToken);
    const second = await t.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ MaxResults: 5, NextToken: first.NextToken }));
    const all = [...first.InstanceCreditSpecifications!, ...second.InstanceCreditSpecifications!];
    assert.equal(second.NextToken, undefined);
    assert.deepEqual(all.map((c) => c.InstanceId).sort(), [...t3.slice(0, 5), ...t2].sort(), 'no m5, no terminated instance');
    assert.equal(all.find((c) => c.InstanceId === t2[0])!.CpuCredits, 'standard');
    assert.equal(all.find((c) => c.InstanceId === t3[0])!.CpuCredits, 'unlimited');
    const one = await t.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [t3[1]!] }));
    assert.deepEqual(one.InstanceCreditSpecifications!.map((c) => c.InstanceId), [t3[1]]);
  });
});
