/**
 * Instances: EC2's state machine over a ComputeBackend. The pieces, each in its file:
 *
 *   launch.ts     RunInstances validation and planning (nothing written)
 *   run.ts        RunInstances: the records, with their addresses, then the queued launches
 *   steps.ts      the ordered launch/boot steps with their undo, journaled in the record
 *   work.ts       the backend work of every command and of reconciliation, inside the instance's queue
 *   lifecycle.ts  Start/Stop/Reboot/TerminateInstances: rules, transitional records, queued work
 *   reconcile.ts  reconciliation by the (recorded x host) table of src/domain/instance-transitions.ts
 *   queue.ts      per-instance serialisation of backend work
 *
 * Every command records the transitional state before it touches the backend, so a crash at any point leaves a
 * record that reconciliation finishes.
 */
import { Ec2Error, notFound } from '../../errors/index.js';
import { instanceType } from '../../domain/instance-types.js';
import type { UserAction } from '../../domain/instance-transitions.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { BackendImageInfo, ComputeBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { NetworkService } from '../network/index.js';
import type { ImageService } from '../images/index.js';
import type { KeyPairService } from '../key-pairs/index.js';
import { InstanceQueue } from './queue.js';
import { planLaunch, type LaunchPlan, type LaunchRequest } from './launch.js';
import { runInstances } from './run.js';
import type { LaunchVolumes } from './volume-step.js';
import { StepRunner } from './steps.js';
import { PLUG_STEP } from './network-steps.js';
import { InstanceWork } from './work.js';
import { checkAction, InstanceCommands, type StateChange } from './lifecycle.js';
import { Reconciler } from './reconcile.js';
import { instanceSpec } from './spec.js';

export type { StateChange } from './lifecycle.js';
export { gatewayOf } from './spec.js';

export interface InstanceAttributeChange {
  instanceType?: string;
  userData?: Buffer | null;
  disableApiTermination?: boolean;
  disableApiStop?: boolean;
  shutdownBehavior?: string;
}

export class InstanceService {
  readonly queue = new InstanceQueue();
  private readonly work: InstanceWork;
  private readonly commands: InstanceCommands;
  private readonly reconciler: Reconciler;
  private readonly steps: StepRunner;

  constructor(
    private readonly repo: ComputeRepository,
    private readonly network: NetworkService,
    private readonly images: ImageService,
    private readonly keyPairs: KeyPairService,
    private readonly compute: ComputeBackend,
    private readonly log: Logger,
    private readonly opts: { retentionMs: number; maxInstances: number; onPurged?: (ids: string[]) => Promise<void>; volumes?: LaunchVolumes },
  ) {
    const volumes = opts.volumes;
    const steps = new StepRunner({
      repo, compute, network, volumes,
      spec: async (row) => ({ ...(await instanceSpec({ network, images, keyPairs }, row)), rootDisk: await volumes?.rootDisk?.(row.id) }),
      rootImage: async (row) => {
        const image = await images.visible(row.account_id.trim(), row.image_id).catch(() => undefined);
        if (!image) throw new Error(`image ${row.image_id} of ${row.id} is gone`);
        return { id: image.id, backendRef: image.backend_ref, sizeGiB: image.size_gib, rootDevice: image.root_device_name };
      },
    });
    this.steps = steps;
    this.work = new InstanceWork({ repo, compute, steps, log });
    this.commands = new InstanceCommands(repo, this.queue, this.work, log);
    this.reconciler = new Reconciler({
      repo, compute, queue: this.queue, work: this.work, steps, log, retentionMs: opts.retentionMs, onPurged: opts.onPurged,
      replacingRoot: (id) => volumes?.replacingRoot?.(id) ?? Promise.resolve(false),
    });
  }

  get maxInstances(): number {
    return this.opts.maxInstances;
  }

  list(accountId: string): Promise<InstanceRow[]> {
    return this.repo.instances(accountId);
  }

  /** Those of these ids that exist in the account (no error for the others). */
  byIds(accountId: string, ids: string[]): Promise<InstanceRow[]> {
    return this.repo.instancesByIds(accountId, ids);
  }

  /** The account's instances with these ids, or `InvalidInstanceID.NotFound` naming the missing ones. */
  async get(accountId: string, ids: string[]): Promise<InstanceRow[]> {
    const rows = await this.repo.instancesByIds(accountId, ids);
    const missing = ids.filter((id) => !rows.some((r) => r.id === id));
    if (missing.length) throw notFound('InvalidInstanceID', 'instance ID', missing);
    return ids.map((id) => rows.find((r) => r.id === id)!);
  }

  // ---- launch

  async plan(accountId: string, req: LaunchRequest): Promise<LaunchPlan> {
    const live = await this.repo.liveCount(accountId);
    return planLaunch(accountId, req, { network: this.network, images: this.images, keyPairs: this.keyPairs, maxInstances: this.opts.maxInstances, liveCount: live });
  }

  /** RunInstances: idempotent per ClientToken; records every instance as pending, then launches in the background. */
  run(accountId: string, plan: LaunchPlan, tagWriter?: (ids: string[]) => Promise<void>): Promise<InstanceRow[]> {
    return runInstances(
      {
        repo: this.repo,
        network: this.network,
        queue: this.queue,
        backendName: this.compute.name,
        launch: (id) => void this.queue.run(id, () => this.work.launch(id), (e) => this.log.error('launch failed; reconciliation will resume it', { instanceId: id, error: e })),
      },
      accountId,
      plan,
      tagWriter,
    );
  }

  // ---- start, stop, reboot, terminate

  /** The account's instances with these ids, checked against every rule of `action` (its DryRun does the same). */
  async prepare(action: UserAction, accountId: string, ids: string[]): Promise<InstanceRow[]> {
    const rows = await this.get(accountId, ids);
    checkAction(action, rows);
    return rows;
  }

  start(rows: InstanceRow[]): Promise<StateChange[]> {
    return this.commands.start(rows);
  }

  stop(rows: InstanceRow[], force: boolean): Promise<StateChange[]> {
    return this.commands.stop(rows, force);
  }

  reboot(rows: InstanceRow[]): Promise<void> {
    return this.commands.reboot(rows);
  }

  terminate(rows: InstanceRow[]): Promise<StateChange[]> {
    return this.commands.terminate(rows);
  }

  // ---- reconciliation and shutdown

  /** One reconciliation pass (see reconcile.ts). */
  reconcile(): Promise<void> {
    return this.reconciler.pass();
  }

  /** Shutdown: no new backend work; work in flight gets `graceMs`. Returns how many instances it left to reconciliation. */
  close(graceMs: number): Promise<number> {
    return this.queue.close(graceMs);
  }

  // ---- attributes, images, consoles

  /** ModifyInstanceAttribute's rules (its DryRun runs them too). */
  async checkModify(row: InstanceRow, attrs: InstanceAttributeChange): Promise<void> {
    if ((attrs.instanceType !== undefined || attrs.userData !== undefined) && row.state !== 'stopped') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${row.id}' is not in the 'stopped' state.`);
    }
    if (attrs.instanceType !== undefined) {
      const type = instanceType(attrs.instanceType);
      if (!type) throw new Ec2Error('InvalidParameterValue', `Invalid value '${attrs.instanceType}' for InstanceType.`);
      // The new type must take the interfaces and addresses the instance has (the limits RunInstances and
      // AttachNetworkInterface / AssignPrivateIpAddresses enforce, answered with their codes and words).
      const enis = (await this.network.enis.ofInstance(row.id)).filter((e) => e.device_index !== null);
      if (enis.length > type.maxEnis) throw new Ec2Error('AttachmentLimitExceeded', `Interface count ${enis.length} exceeds the limit for ${type.name}`);
      if (enis.some((e) => e.ips.length > type.ipv4PerEni)) throw new Ec2Error('PrivateIpAddressLimitExceeded', 'Number of private addresses will exceed limit.');
    }
    if (attrs.shutdownBehavior !== undefined && attrs.shutdownBehavior !== 'stop' && attrs.shutdownBehavior !== 'terminate') {
      throw new Ec2Error('InvalidParameterValue', `Value (${attrs.shutdownBehavior}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
    }
  }

  async modify(row: InstanceRow, attrs: InstanceAttributeChange): Promise<void> {
    await this.checkModify(row, attrs);
    if (attrs.instanceType !== undefined && row.backend_id) {
      const t = instanceType(attrs.instanceType)!;
      await this.compute.resize(row.backend_id, t.vcpus, t.memoryMiB);
    }
    await this.repo.updateAttributes(row.id, {
      ...(attrs.instanceType !== undefined ? { instance_type: attrs.instanceType } : {}),
      ...(attrs.userData !== undefined ? { user_data: attrs.userData } : {}),
      ...(attrs.disableApiTermination !== undefined ? { disable_api_termination: attrs.disableApiTermination } : {}),
      ...(attrs.disableApiStop !== undefined ? { disable_api_stop: attrs.disableApiStop } : {}),
      ...(attrs.shutdownBehavior !== undefined ? { shutdown_behavior: attrs.shutdownBehavior } : {}),
    });
  }

  /**
   * Captures an instance's disk for CreateImage, in the instance's queue. As on AWS, a running instance is
   * shut down for a consistent image and started again, unless `noReboot` (then the backend captures it live
   * where it can). Its EC2 state stays 'running' throughout, as for a reboot; the 'capture' mark on its record
   * lets reconciliation start it again if the process dies while it is down.
   */
  capture(row: InstanceRow, imageId: string, noReboot: boolean): Promise<BackendImageInfo> {
    return new Promise((resolve, reject) => {
      void this.queue.run(
        row.id,
        async () => {
          const now = await this.repo.instance(row.id);
          if (!now?.backend_id) throw new Error(`instance ${row.id} has no backend object`);
          const backendId = now.backend_id;
          const running = (await this.compute.state(backendId)) === 'running';
          if (!running || noReboot) return resolve(await this.compute.captureImage(backendId, imageId));
          await this.repo.setActivity(row.id, 'capture', ['running']);
          await this.compute.stop(backendId, { force: false });
          try {
            resolve(await this.compute.captureImage(backendId, imageId));
          } finally {
            await this.compute.start(backendId);
            // A restarted container has a new network namespace: its ENI is plugged again.
            await this.steps.redo(row.id, PLUG_STEP).catch((e) => this.log.error('re-plug after capture failed', { instanceId: row.id, error: e }));
            await this.repo.setActivity(row.id, null, ['running'], 'capture');
          }
        },
        (e) => reject(e),
      );
    });
  }

  /**
   * Runs `fn` while the running instance is shut down (CreateReplaceRootVolumeTask), in its queue, and starts it
   * again whatever `fn` did, as capture does: its EC2 state stays 'running' (AWS reboots it around the
   * replacement), and the 'capture' mark lets reconciliation start it again if the process dies while it is down.
   */
  whileShutDown<T>(instanceId: string, fn: (backendId: string) => Promise<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      void this.queue.run(
        instanceId,
        async () => {
          const now = await this.repo.instance(instanceId);
          if (now?.state !== 'running' || !now.backend_id) throw new Error(`instance ${instanceId} is ${now?.state ?? 'gone'}`);
          const backendId = now.backend_id;
          // A 'capture' mark already there is a crash's leftover (captures run in this queue: none is in flight),
          // e.g. of the root volume replacement being resumed now: taken over.
          if (!(await this.repo.setActivity(instanceId, 'capture', ['running'], null)) && now.activity !== 'capture') throw new Error(`instance ${instanceId} is busy (${now.activity})`);
          try {
            await this.compute.stop(backendId, { force: false });
            resolve(await fn(backendId));
          } finally {
            await this.compute.start(backendId);
            await this.steps.redo(instanceId, PLUG_STEP).catch((e) => this.log.error('re-plug after a root volume replacement failed', { instanceId, error: e }));
            await this.repo.setActivity(instanceId, null, ['running'], 'capture');
          }
        },
        (e) => reject(e),
      );
    });
  }

  /**
   * Runs `fn` in the instance's queue: after the backend work queued before it (a stop, a termination), never
   * beside it. Its result or its error; an error too when the server is shutting down and `fn` never ran.
   */
  async exclusive<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    let out: { value: T } | { error: unknown } | undefined;
    await this.queue.run(instanceId, async () => {
      try {
        out = { value: await fn() };
      } catch (error) {
        out = { error };
      }
    }, () => {});
    if (!out) throw new Error(`the server is shutting down; instance ${instanceId} takes no more work`);
    if ('error' in out) throw out.error;
    return out.value;
  }

  async consoleOutput(row: InstanceRow): Promise<string> {
    if (!row.backend_id) return '';
    return this.compute.consoleOutput(row.backend_id).catch(() => '');
  }

  async screenshot(id: string, accountId: string): Promise<Buffer> {
    const [row] = await this.get(accountId, [id]);
    if (!this.compute.consoleScreenshot) throw new Ec2Error('UnsupportedOperation', 'This backend has no graphical console.');
    if (!row!.backend_id) throw new Ec2Error('IncorrectInstanceState', `The instance '${id}' has no console yet.`);
    return this.compute.consoleScreenshot(row!.backend_id);
  }

  /** Where the instance's graphical console (VNC) listens, for backends that have one. */
  async console(id: string, accountId: string): Promise<{ vncUrl?: string }> {
    const [row] = await this.get(accountId, [id]);
    if (!this.compute.consoleInfo || !row!.backend_id || row!.state !== 'running') return {};
    return this.compute.consoleInfo(row!.backend_id);
  }
}
