/**
 * The instance behaviour every compute backend must show, through the real JS SDK and its waiters.
 * test/instances/<backend>.test.ts runs this one suite against noop, Docker and libvirt.
 */
import assert from 'node:assert/strict';
import {
  RunInstancesCommand,
  DescribeInstancesCommand,
  StopInstancesCommand,
  StartInstancesCommand,
  RebootInstancesCommand,
  TerminateInstancesCommand,
  ModifyInstanceAttributeCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstanceStatusCommand,
  GetConsoleOutputCommand,
  DescribeImagesCommand,
  CreateKeyPairCommand,
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeInstanceCreditSpecificationsCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
  waitUntilInstanceStatusOk,
  waitUntilImageAvailable,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

export interface SuiteOptions {
  backend: 'noop' | 'docker' | 'libvirt';
  env?: Record<string, string>;
  /** Name of the built-in image to launch. */
  imageName: string;
  /** Whether the backend really runs user data (so its output reaches the console). */
  runsUserData: boolean;
  /** Skip (or fail in CI) when the backend is missing. */
  before?: (ctx: Mocha.Context) => Promise<void>;
  /** Seconds a waiter may take on this backend. */
  waitSeconds?: number;
  /** A line the instance's console shows once per boot (the first, each start, each reboot). */
  bootLine: string;
}

async function expectError(p: Promise<unknown>, code: string, status = 400): Promise<void> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(err.name, code);
    assert.equal(err.$metadata?.httpStatusCode, status);
    return;
  }
  assert.fail(`expected ${code}`);
}

export function instanceSuite(o: SuiteOptions): void {
  describe(`instances on the ${o.backend} backend`, function () {
    this.timeout(Math.max(120, (o.waitSeconds ?? 60) * 4) * 1000);
    let imageId: string;
    const wait = { maxWaitTime: o.waitSeconds ?? 60, minDelay: 1, maxDelay: 2 };
    const created: string[] = [];

    const t = useTestServer({
      env: { COMPUTE_BACKEND: o.backend, ...(o.env ?? {}) },
      requires: o.before,
      beforeClose: async ({ ec2 }) => {
        const live = created.length ? await ec2.send(new DescribeInstancesCommand({ InstanceIds: created })).catch(() => undefined) : undefined;
        const ids = live?.Reservations?.flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId!) ?? [];
        if (ids.length) {
          await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: ids[0]!, DisableApiTermination: { Value: false } })).catch(() => undefined);
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })).catch(() => undefined);
          await waitUntilInstanceTerminated({ client: ec2, ...wait }, { InstanceIds: ids }).catch(() => undefined);
        }
      },
    });
    before(async () => {
      const images = await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: [o.imageName] }] }));
      assert.equal(images.Images?.length, 1, `built-in image ${o.imageName} is registered`);
      imageId = images.Images![0]!.ImageId!;
    });

    async function launch(extra: Record<string, unknown> = {}) {
      const r = await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', ...extra }));
      for (const i of r.Instances ?? []) created.push(i.InstanceId!);
      return r;
    }

    const marker = `user-data-ran-${Date.now()}`;
    let id: string;

    it('launches an instance that reaches running, with a private IP from its subnet, tags and key pair', async () => {
      await t.ec2.send(new CreateKeyPairCommand({ KeyName: `k-${o.backend}` }));
      const r = await launch({
        KeyName: `k-${o.backend}`,
        UserData: Buffer.from(`#!/bin/sh\necho ${marker}\n`).toString('base64'),
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `web-${o.backend}` }] }],
      });
      const inst = r.Instances![0]!;
      id = inst.InstanceId!;
      assert.match(id, /^i-[0-9a-f]{17}$/);
      assert.equal(inst.State?.Name, 'pending');
      assert.equal(inst.State?.Code, 0);
      assert.match(inst.PrivateIpAddress!, /^172\.31\.\d+\.\d+$/);
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      const d = await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [`web-${o.backend}`] }] }));
      const got = d.Reservations![0]!.Instances![0]!;
      assert.equal(got.InstanceId, id);
      assert.equal(got.State?.Name, 'running');
      assert.equal(got.KeyName, `k-${o.backend}`);
      assert.equal(got.PrivateIpAddress, inst.PrivateIpAddress);
      assert.equal(got.NetworkInterfaces?.[0]?.PrivateIpAddress, inst.PrivateIpAddress);
      assert.ok(got.LaunchTime instanceof Date);
    });

    it('filters DescribeInstances by state, ip, subnet, key and reservation', async () => {
      const one = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!;
      const inst = one.Instances![0]!;
      const filters: [string, string][] = [
        ['instance-state-name', 'running'],
        ['private-ip-address', inst.PrivateIpAddress!],
        ['subnet-id', inst.SubnetId!],
        ['vpc-id', inst.VpcId!],
        ['key-name', `k-${o.backend}`],
        ['reservation-id', one.ReservationId!],
        ['instance-type', 't3.micro'],
        ['image-id', imageId],
        ['tag-key', 'Name'],
      ];
      for (const [name, value] of filters) {
        const d = await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: name, Values: [value] }] }));
        const ids = d.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId));
        assert.ok(ids.includes(id), `filter ${name}=${value} finds the instance`);
      }
      const none = await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] }));
      assert.ok(!none.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)).includes(id));
    });

    it('reports status ok once running (instance_status_ok waiter)', async () => {
      await waitUntilInstanceStatusOk({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      const st = await t.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
      assert.equal(st.InstanceStatuses![0]!.InstanceState?.Name, 'running');
      assert.equal(st.InstanceStatuses![0]!.InstanceStatus?.Status, 'ok');
    });

    it('shows the console output' + (o.runsUserData ? ', with the user data script output' : ''), async function () {
      const deadline = Date.now() + (o.waitSeconds ?? 60) * 1000;
      let text = '';
      while (Date.now() < deadline) {
        const out = await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
        text = Buffer.from(out.Output ?? '', 'base64').toString('utf8');
        if (!o.runsUserData ? text.length > 0 : text.includes(marker)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      if (o.runsUserData) assert.ok(text.includes(marker), `console shows the marker; got: ${text.slice(-500)}`);
      else assert.ok(text.length > 0);
    });

    it('refuses to resize a running instance, resizes a stopped one, and starts it again', async () => {
      await expectError(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } })), 'IncorrectInstanceState');
      await expectError(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' }, DryRun: true })), 'IncorrectInstanceState');
      await expectError(t.ec2.send(new StartInstancesCommand({ InstanceIds: [id], DryRun: true })), 'DryRunOperation', 412);
      const stop = await t.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
      assert.equal(stop.StoppingInstances![0]!.PreviousState?.Name, 'running');
      assert.equal(stop.StoppingInstances![0]!.CurrentState?.Name, 'stopping');
      await waitUntilInstanceStopped({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      // What DescribeInstanceStatus says of a stopped instance: nothing by default, not-applicable when asked for all.
      const running = await t.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
      assert.deepEqual(running.InstanceStatuses, [], 'a stopped instance is not listed without IncludeAllInstances');
      const all = (await t.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true }))).InstanceStatuses![0]!;
      assert.equal(all.InstanceState?.Name, 'stopped');
      assert.equal(all.InstanceStatus?.Status, 'not-applicable');
      assert.equal(all.SystemStatus?.Status, 'not-applicable');
      await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.small' } }));
      const attr = await t.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'instanceType' }));
      assert.equal(attr.InstanceType?.Value, 't3.small');
      const newUserData = Buffer.from('#!/bin/sh\necho replaced\n');
      await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, UserData: { Value: new Uint8Array(Buffer.from(newUserData.toString('base64'))) } }));
      const ud = await t.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'userData' }));
      assert.equal(Buffer.from(ud.UserData!.Value!, 'base64').toString(), newUserData.toString());
      const d = await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      assert.equal(d.Reservations![0]!.Instances![0]!.StateReason?.Code, 'Client.UserInitiatedShutdown');
      const start = await t.ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
      assert.equal(start.StartingInstances![0]!.CurrentState?.Name, 'pending');
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      const after = await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      assert.equal(after.Reservations![0]!.Instances![0]!.InstanceType, 't3.small');
    });

    it('reboots a running instance: its console shows it boot once more, and it stays running', async () => {
      const consoleText = async () => Buffer.from((await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }))).Output ?? '', 'base64').toString('utf8');
      const boots = async () => (await consoleText()).split(o.bootLine).length - 1;
      // The launch's boot and the start's (a VM is `running` as soon as QEMU runs, before its guest prints a line).
      let deadline = Date.now() + (o.waitSeconds ?? 60) * 1000;
      while ((await boots()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      const before = await boots();
      assert.equal(before, 2, 'boots on the console before the reboot: the launch and the start');
      await t.ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
      deadline = Date.now() + (o.waitSeconds ?? 60) * 1000;
      while ((await boots()) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      assert.equal(await boots(), before + 1, `one more boot on the console; its end: ${(await consoleText()).slice(-400)}`);
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      const d = await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      assert.equal(d.Reservations![0]!.Instances![0]!.State?.Name, 'running');
    });

    it('keeps ClientToken launches idempotent', async () => {
      const token = `tok-${o.backend}-${Date.now()}`;
      const a = await launch({ ClientToken: token });
      const b = await launch({ ClientToken: token });
      assert.equal(b.Instances![0]!.InstanceId, a.Instances![0]!.InstanceId);
      assert.equal(b.ReservationId, a.ReservationId);
      await expectError(launch({ ClientToken: token, InstanceType: 't3.small' }), 'IdempotentParameterMismatch');
    });

    it('reports burstable credit specifications', async () => {
      const c = await t.ec2.send(new DescribeInstanceCreditSpecificationsCommand({ InstanceIds: [id] }));
      assert.equal(c.InstanceCreditSpecifications![0]!.CpuCredits, 'unlimited');
    });

    it('answers launch errors with AWS codes and launches nothing on DryRun', async () => {
      await expectError(launch({ ImageId: 'ami-0123456789abcdef0' }), 'InvalidAMIID.NotFound');
      await expectError(launch({ ImageId: 'ami-nope' }), 'InvalidAMIID.Malformed');
      await expectError(launch({ InstanceType: 'x9.huge' }), 'InvalidParameterValue');
      await expectError(launch({ KeyName: 'no-such-key' }), 'InvalidKeyPair.NotFound');
      await expectError(launch({ SubnetId: 'subnet-0123456789abcdef0' }), 'InvalidSubnetID.NotFound');
      await expectError(launch({ MinCount: 3, MaxCount: 2 }), 'InvalidParameterValue');
      const before = await t.ec2.send(new DescribeInstancesCommand({}));
      await expectError(launch({ DryRun: true }), 'DryRunOperation', 412);
      const after = await t.ec2.send(new DescribeInstancesCommand({}));
      assert.equal(after.Reservations!.length, before.Reservations!.length);
      await expectError(t.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })), 'InvalidInstanceID.NotFound');
    });

    it('refuses to terminate a protected instance, then terminates it once unprotected', async () => {
      await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: true } }));
      await expectError(t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })), 'OperationNotPermitted');
      await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }));
      const terminated = await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      assert.equal(terminated.TerminatingInstances![0]!.CurrentState?.Name, 'shutting-down');
      await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: [id] });
      const d = await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      assert.equal(d.Reservations![0]!.Instances![0]!.State?.Name, 'terminated', 'terminated instances stay visible');
      await expectError(t.ec2.send(new StartInstancesCommand({ InstanceIds: [id] })), 'IncorrectInstanceState');
      // A DryRun is refused as the real call is.
      await expectError(t.ec2.send(new StartInstancesCommand({ InstanceIds: [id], DryRun: true })), 'IncorrectInstanceState');
      await expectError(t.ec2.send(new StopInstancesCommand({ InstanceIds: [id], DryRun: true })), 'IncorrectInstanceState');
      await expectError(t.ec2.send(new RebootInstancesCommand({ InstanceIds: [id], DryRun: true })), 'IncorrectInstanceState');
    });

    it('never gives two concurrently launched instances the same address', async () => {
      const runs = await Promise.all(Array.from({ length: 4 }, () => launch({ MinCount: 2, MaxCount: 2 })));
      const ips = runs.flatMap((r) => r.Instances!.map((i) => i.PrivateIpAddress));
      assert.equal(new Set(ips).size, 8);
      const ids = runs.flatMap((r) => r.Instances!.map((i) => i.InstanceId!));
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: ids });
      await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
      await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: ids });
    });

    it('creates an image from an instance and launches from it', async () => {
      const r = await launch();
      const src = r.Instances![0]!.InstanceId!;
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [src] });
      const img = await t.ec2.send(new CreateImageCommand({ InstanceId: src, Name: `img-${o.backend}-${Date.now()}` }));
      assert.match(img.ImageId!, /^ami-[0-9a-f]{17}$/);
      await waitUntilImageAvailable({ client: t.ec2, ...wait }, { ImageIds: [img.ImageId!] });
      const child = await launch({ ImageId: img.ImageId });
      await waitUntilInstanceRunning({ client: t.ec2, ...wait }, { InstanceIds: [child.Instances![0]!.InstanceId!] });
      await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [src, child.Instances![0]!.InstanceId!] }));
      await waitUntilInstanceTerminated({ client: t.ec2, ...wait }, { InstanceIds: [src, child.Instances![0]!.InstanceId!] });
      await t.ec2.send(new DeregisterImageCommand({ ImageId: img.ImageId! }));
      await expectError(t.ec2.send(new DescribeImagesCommand({ ImageIds: [img.ImageId!] })), 'InvalidAMIID.NotFound');
      await expectError(launch({ ImageId: img.ImageId }), 'InvalidAMIID.NotFound');
    });
  });
}
