import assert from 'node:assert/strict';
import {
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  DetachNetworkInterfaceCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  StopInstancesCommand,
  ModifyInstanceAttributeCommand,
  AssignPrivateIpAddressesCommand,
  UnassignPrivateIpAddressesCommand,
} from '@aws-sdk/client-ec2';
import pg from 'pg';
import { useTestServer } from '../support/use-server.js';
import { eventually } from '../support/eventually.js';

/**
 * AttachNetworkInterface / DetachNetworkInterface racing each other and the instance's termination on one
 * instance (noop backends: the records are what is checked). A t2.micro takes two interfaces: its primary one
 * and one more.
 */
describe('ENI attachments under concurrency: one instance\'s device indexes and interface limit hold', () => {
  const t = useTestServer();
  let subnetId: string;
  let imageId: string;
  before(async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.61.0.0/16' }))).Vpc!.VpcId!;
    subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.61.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    imageId = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
  });

  const newEni = async () => (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }))).NetworkInterface!.NetworkInterfaceId!;
  const running = async () => {
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't2.micro', MinCount: 1, MaxCount: 1, SubnetId: subnetId }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    return id;
  };
  const attachedTo = async (instanceId: string) =>
    (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }))).NetworkInterfaces!;
  const code = (r: PromiseSettledResult<unknown>) => (r.status === 'rejected' ? (r.reason as { name?: string }).name : 'ok');
  const attach = (eni: string, instanceId: string, index: number) =>
    t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni, InstanceId: instanceId, DeviceIndex: index }));

  it('lets one of two concurrent attachments through, at one device index or beyond the instance type\'s limit, with AWS\'s error for the other', async () => {
    const inst = await running();
    const [a, b] = [await newEni(), await newEni()];
    for (let round = 0; round < 8; round++) {
      // The same device index (even rounds) or two indexes that together exceed t2.micro's two interfaces.
      const sameIndex = round % 2 === 0;
      const results = await Promise.allSettled([attach(a, inst, 1), attach(b, inst, sameIndex ? 1 : 2)]);
      const won = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(won, 1, `round ${round}: ${won} attachments of two went through (${results.map(code).join(', ')})`);
      const lost = results.find((r) => r.status === 'rejected')!;
      assert.equal(code(lost), sameIndex ? 'InvalidParameterValue' : 'AttachmentLimitExceeded', `round ${round}: the refusal`);
      const enis = await attachedTo(inst);
      assert.equal(enis.length, 2, `round ${round}: the instance has ${enis.length} interfaces`);
      for (const e of enis) if (e.Attachment!.DeviceIndex !== 0) await t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: e.Attachment!.AttachmentId }));
    }
  });

  // The interleavings the race above hits by chance, made certain: each request waits after its validation.
  const afterValidation = (between: () => Promise<void>) => {
    const checks = t.s.services.network.attachments;
    const validate = checks.checkAttach.bind(checks);
    checks.checkAttach = async (accountId, req) => {
      await validate(accountId, req);
      await between();
    };
    return () => (checks.checkAttach = validate);
  };

  it('checks the interface limit again where the attachment is written: two requests validated before either is', async () => {
    const inst = await running();
    const [a, b] = [await newEni(), await newEni()];
    // Each alone fits t2.micro's two interfaces, both do not.
    let arrived = 0;
    let bothValidated!: () => void;
    const barrier = new Promise<void>((r) => (bothValidated = r));
    const restore = afterValidation(async () => {
      if (++arrived === 2) bothValidated();
      await barrier;
    });
    try {
      const results = await Promise.allSettled([attach(a, inst, 1), attach(b, inst, 2)]);
      assert.deepEqual(results.map(code).sort(), ['AttachmentLimitExceeded', 'ok']);
    } finally {
      restore();
    }
    assert.equal((await attachedTo(inst)).length, 2);
  });

  it('checks the instance again where the attachment is written: terminated between the validation and the write, it gets nothing', async () => {
    const inst = await running();
    const eni = await newEni();
    const restore = afterValidation(async () => {
      await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst] }));
      await eventually('the instance terminated', async () =>
        (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!.State!.Name === 'terminated');
    });
    try {
      const [late] = await Promise.allSettled([attach(eni, inst, 1)]);
      assert.equal(code(late!), 'InvalidInstanceID.NotFound');
    } finally {
      restore();
    }
    assert.deepEqual(await attachedTo(inst), []);
    assert.equal((await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni] }))).NetworkInterfaces![0]!.Attachment, undefined);
  });

  it('never leaves an interface attached to a terminated instance, nor two at one device index, when attach, detach and terminate race', async () => {
    const [a, b] = [await newEni(), await newEni()];
    const db = new pg.Client({ connectionString: t.s.databaseUrl });
    await db.connect();
    try {
      for (let round = 0; round < 4; round++) {
        const inst = await running();
        const att = (await attach(a, inst, 1)).AttachmentId!;
        const results = await Promise.allSettled([
          t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: att })),
          attach(b, inst, 1),
          t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst] })),
          attach(b, inst, 1),
        ]);
        for (const r of results) {
          assert.ok(r.status === 'fulfilled' || /^(InvalidParameterValue|AttachmentLimitExceeded|IncorrectInstanceState|InvalidNetworkInterface\.InUse|InvalidAttachmentID\.NotFound|InvalidInstanceID\.NotFound)$/.test(code(r)!), `round ${round}: ${code(r)}`);
        }
        await eventually('the instance terminated', async () =>
          (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!.State!.Name === 'terminated');
        assert.deepEqual(await attachedTo(inst), [], `round ${round}: interfaces attached to the terminated instance`);
        const left = await db.query(`SELECT n.id FROM network_interfaces n JOIN instances i ON i.id = n.instance_id WHERE i.state = 'terminated'`);
        assert.deepEqual(left.rows, [], `round ${round}: records of interfaces attached to terminated instances`);
      }
    } finally {
      await db.end();
    }
  });

  it('keeps a stopped instance from changing to a type that cannot take its interfaces or addresses, with the codes of the limits', async () => {
    // t3.micro (2 vCPUs): 3 interfaces, 6 addresses each; t2.micro (1 vCPU): 2 interfaces, 2 addresses each.
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: subnetId }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [inst] });
    await attach(await newEni(), inst, 1);
    const second = (await attach(await newEni(), inst, 2)).AttachmentId!;
    await t.ec2.send(new StopInstancesCommand({ InstanceIds: [inst] }));
    await waitUntilInstanceStopped({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [inst] });
    const toT2 = (dryRun = false) => t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: inst, InstanceType: { Value: 't2.micro' }, DryRun: dryRun }));
    const typeNow = async () => (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!.InstanceType;
    await assert.rejects(toT2(), { name: 'AttachmentLimitExceeded', message: 'Interface count 3 exceeds the limit for t2.micro' });
    await assert.rejects(toT2(true), { name: 'AttachmentLimitExceeded' }, 'DryRun answers as the call would');
    await t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: second }));
    const primary = (await attachedTo(inst)).find((e) => e.Attachment!.DeviceIndex === 0)!.NetworkInterfaceId!;
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: primary, SecondaryPrivateIpAddressCount: 2 }));
    await assert.rejects(toT2(), { name: 'PrivateIpAddressLimitExceeded' });
    assert.equal(await typeNow(), 't3.micro', 'refused, nothing changed');
    const secondary = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [primary] }))).NetworkInterfaces![0]!.PrivateIpAddresses!.filter((a) => !a.Primary);
    await t.ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: primary, PrivateIpAddresses: [secondary[0]!.PrivateIpAddress!] }));
    await toT2();
    assert.equal(await typeNow(), 't2.micro', 'two interfaces with two addresses each fit a t2.micro');
  });
});
