/**
 * Instances: EC2's state machine over a ComputeBackend.
 *
 * Every command first records the transitional state (pending, stopping, shutting-down) in the database, then
 * does the backend work in the background (serialised per instance), then records the final state. A crash at
 * any point leaves a row that `reconcile` finishes: it adopts containers/domains that carry the instance's id,
 * resumes launches that never reached the backend, and removes labelled backend objects that have no record.
 */
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import { CAN, STATE_REASONS, userInitiated, type InstanceState } from '../../domain/instance-state.js';
import { instanceType } from '../../domain/instance-types.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import { HostCapacityError, type BackendImageInfo, type ComputeBackend, type InstanceSpec } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { NetworkService } from '../network/index.js';
import type { ImageService } from '../images/index.js';
import type { KeyPairService } from '../key-pairs/index.js';
import { InstanceQueue } from './queue.js';
import { planLaunch, randomMac, type LaunchPlan, type LaunchRequest } from './launch.js';
import { renderFirstBootScript } from './user-data.js';

export interface StateChange {
  id: string;
  previous: string;
  current: string;
}

export class InstanceService {
  readonly queue = new InstanceQueue();

  constructor(
    private readonly repo: ComputeRepository,
    private readonly network: NetworkService,
    private readonly images: ImageService,
    private readonly keyPairs: KeyPairService,
    private readonly compute: ComputeBackend,
    private readonly log: Logger,
    private readonly opts: { retentionMs: number; maxInstances: number; onPurged?: (ids: string[]) => Promise<void> },
  ) {}

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

  async plan(accountId: string, req: LaunchRequest): Promise<LaunchPlan> {
    const live = await this.repo.liveCount(accountId);
    return planLaunch(accountId, req, { network: this.network, images: this.images, keyPairs: this.keyPairs, maxInstances: this.opts.maxInstances, liveCount: live });
  }

  /** RunInstances: idempotent per ClientToken; records every instance as pending, then launches in the background. */
  async run(accountId: string, plan: LaunchPlan, tags: { key: string; value: string }[], tagWriter: (ids: string[]) => Promise<void>): Promise<InstanceRow[]> {
    if (plan.clientToken) {
      const existing = await this.repo.byClientToken(accountId, plan.clientToken);
      if (existing.length) return this.sameLaunch(existing, plan);
    }
    const reservationId = newId('reservation');
    const ids: string[] = [];
    const allocated: string[] = [];
    let release: (() => void) | undefined;
    try {
      for (let i = 0; i < plan.count.max; i++) {
        const id = newId('instance');
        try {
          await this.network.allocateIp(plan.subnet, id, i === 0 ? plan.privateIp : undefined);
        } catch (e) {
          // Launch as many as the subnet allows, as long as that is at least MinCount.
          if (i >= plan.count.min && e instanceof Ec2Error && e.code === 'InsufficientFreeAddressesInSubnet') break;
          throw e;
        }
        allocated.push(id);
        ids.push(id);
      }
      const ips = new Map<string, string>();
      for (const id of ids) ips.set(id, (await this.network.ipsOf(id))[0]!);
      release = this.queue.reserve(ids);
      await this.repo.tx(async (t) => {
        for (const [i, id] of ids.entries()) {
          await this.repo.insertInstance(
            {
              id, account_id: accountId, reservation_id: reservationId, launch_index: i, image_id: plan.image.id,
              instance_type: plan.type.name, key_name: plan.keyPair?.name ?? null, state: 'pending', state_reason_code: 'pending',
              state_reason_message: 'pending', state_transition_reason: '', subnet_id: plan.subnet.id, vpc_id: plan.subnet.vpc_id,
              availability_zone: plan.subnet.availability_zone, private_ip: ips.get(id)!, mac_address: randomMac(),
              eni_id: newId('networkInterface'), security_group_ids: plan.securityGroupIds, user_data: plan.userData ?? null,
              client_token: plan.clientToken ?? null, launch_fingerprint: plan.fingerprint, block_device_mappings: plan.blockDeviceMappings,
              disable_api_termination: plan.disableApiTermination, disable_api_stop: plan.disableApiStop,
              shutdown_behavior: plan.shutdownBehavior, backend: this.compute.name, backend_id: null,
            },
            t,
          );
        }
      });
    } catch (e) {
      release?.();
      for (const id of allocated) await this.network.releaseIps(id);
      // A concurrent request with the same ClientToken won the race: answer with its instances.
      if (plan.clientToken && /unique|duplicate/i.test((e as Error).message)) {
        const existing = await this.repo.byClientToken(accountId, plan.clientToken);
        if (existing.length) return this.sameLaunch(existing, plan);
      }
      throw e;
    }
    try {
      if (tags.length) await tagWriter(ids);
      const rows = await this.repo.instancesByIds(accountId, ids);
      for (const row of rows) this.enqueueLaunch(row.id);
      return rows.sort((a, b) => a.launch_index - b.launch_index);
    } finally {
      release?.();
    }
  }

  /** The instances of an earlier launch with this ClientToken, if it asked for the same thing. */
  private sameLaunch(existing: InstanceRow[], plan: LaunchPlan): InstanceRow[] {
    if (existing[0]!.launch_fingerprint && existing[0]!.launch_fingerprint !== plan.fingerprint) {
      throw new Ec2Error('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
    }
    return existing;
  }

  private async specFor(row: InstanceRow): Promise<InstanceSpec> {
    const image = await this.images.visible(row.account_id.trim(), row.image_id).catch(() => undefined);
    if (!image) throw new Error(`image ${row.image_id} of ${row.id} is gone`);
    const type = instanceType(row.instance_type)!;
    const keys: string[] = [];
    if (row.key_name) {
      const kp = await this.keyPairs.byName(row.account_id.trim(), row.key_name);
      if (kp) keys.push(kp.public_key);
    }
    const subnet = await this.network.subnet(row.account_id.trim(), row.subnet_id);
    if (!subnet) throw new Error(`subnet ${row.subnet_id} of ${row.id} is gone`);
    const vpc = (await this.network.vpcs(row.account_id.trim())).find((v) => v.id === subnet.vpc_id);
    if (!vpc) throw new Error(`VPC ${subnet.vpc_id} of ${row.id} is gone`);
    const userData = row.user_data ?? undefined;
    return {
      instanceId: row.id,
      accountId: row.account_id.trim(),
      imageRef: image.backend_ref,
      vcpus: type.vcpus,
      memoryMiB: type.memoryMiB,
      hostname: `ip-${row.private_ip.replace(/\./g, '-')}`,
      firstBootScript: renderFirstBootScript(userData, keys),
      userData,
      publicKeys: keys,
      network: {
        subnetId: subnet.id,
        vpcId: subnet.vpc_id,
        cidr: subnet.cidr_block,
        vpcCidr: vpc.cidr_block,
        gateway: gatewayOf(subnet.cidr_block),
        privateIp: row.private_ip,
        macAddress: row.mac_address,
      },
    };
  }

  /**
   * Queues the launch of a pending instance. It is decided inside the instance's queue, on fresh reads, because
   * what the caller saw may be stale: queued work may have launched or terminated it since, and reconciliation
   * works from a snapshot (a launch that finished after it was taken looked interrupted and was launched twice).
   * With `adopt` (reconciliation: no work in flight and no backend id recorded), a backend object a crashed
   * launch left on the host is adopted instead of creating another.
   */
  private enqueueLaunch(id: string, opts: { adopt: boolean } = { adopt: false }): void {
    let launching: InstanceRow | undefined;
    void this.queue.run(
      id,
      async () => {
        const row = await this.repo.instance(id);
        if (!row || row.backend_id) return;
        if (opts.adopt) {
          const obj = (await this.compute.list()).find((o) => o.instanceId === id);
          if (obj) {
            this.log.info('reconcile: adopting backend object of a launch interrupted by a crash', { instanceId: id });
            await this.repo.setBackendId(id, obj.backendId);
            await this.refreshNow(id);
            return;
          }
        }
        if (row.state !== 'pending') return;
        if (opts.adopt) this.log.info('reconcile: resuming an interrupted launch', { instanceId: id });
        launching = row;
        const { backendId } = await this.compute.create(await this.specFor(row));
        await this.repo.setBackendId(id, backendId);
        await this.afterBackend(id, backendId, ['pending'], 'running');
      },
      async (e) => {
        if (launching) return this.failLaunch(launching, e);
        this.log.error('could not read or adopt an instance to launch; reconciliation will retry', { instanceId: id, error: (e as Error)?.message });
      },
    );
  }

  private async failLaunch(row: InstanceRow, e: unknown): Promise<void> {
    this.log.error('launch failed', { instanceId: row.id, error: (e as Error)?.message });
    const fresh = await this.repo.instance(row.id);
    if (fresh?.backend_id) await this.compute.destroy(fresh.backend_id).catch(() => undefined);
    // A host that cannot place the instance is not an internal fault: say so as AWS does, with the reason.
    const reason = e instanceof HostCapacityError
      ? { reasonCode: STATE_REASONS.noCapacity.code, reasonMessage: `${STATE_REASONS.noCapacity.message} (${e.message})` }
      : { reasonCode: STATE_REASONS.launchFailed.code, reasonMessage: STATE_REASONS.launchFailed.message };
    await this.repo.transition(row.id, ['pending'], 'terminated', reason);
    await this.network.releaseIps(row.id);
  }

  /** After a backend call, record what the backend now reports (or the expected state if it agrees). */
  private async afterBackend(id: string, backendId: string, from: InstanceState[], expected: InstanceState): Promise<void> {
    const actual = await this.compute.state(backendId);
    const target = actual === 'running' ? 'running' : actual === 'stopped' ? 'stopped' : expected;
    await this.repo.transition(id, from, target, target === 'running' ? { reasonCode: null, reasonMessage: null } : {});
  }

  async start(accountId: string, ids: string[]): Promise<StateChange[]> {
    const rows = await this.get(accountId, ids);
    for (const r of rows) {
      if (r.state !== 'stopped' && r.state !== 'running' && r.state !== 'pending') {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be started.`);
      }
    }
    const changes: StateChange[] = [];
    for (const r of rows) {
      if (r.state !== 'stopped' || !(await this.repo.transition(r.id, CAN.start, 'pending', { reasonCode: null, reasonMessage: null, transitionReason: '' }))) {
        changes.push({ id: r.id, previous: r.state, current: r.state });
        continue;
      }
      changes.push({ id: r.id, previous: 'stopped', current: 'pending' });
      void this.queue.run(
        r.id,
        async () => {
          const backendId = await this.requireBackend(r.id);
          await this.compute.start(backendId);
          await this.afterBackend(r.id, backendId, ['pending'], 'running');
        },
        async (e) => {
          this.log.error('start failed', { instanceId: r.id, error: (e as Error)?.message });
          await this.repo.transition(r.id, ['pending'], 'stopped', { reasonCode: 'Server.InternalError', reasonMessage: 'Server.InternalError: start failed' });
        },
      );
    }
    return changes;
  }

  checkStop(rows: InstanceRow[]): void {
    for (const r of rows) {
      if (r.disable_api_stop) {
        throw new Ec2Error('OperationNotPermitted', `The instance '${r.id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
      }
      if (r.state === 'terminated' || r.state === 'shutting-down') {
        throw new Ec2Error('IncorrectInstanceState', `This instance '${r.id}' is not in a state from which it can be stopped.`);
      }
    }
  }

  async stop(accountId: string, ids: string[], force: boolean): Promise<StateChange[]> {
    const rows = await this.get(accountId, ids);
    this.checkStop(rows);
    const changes: StateChange[] = [];
    for (const r of rows) {
      const moved = await this.repo.transition(r.id, CAN.stop, 'stopping', {
        reasonCode: STATE_REASONS.userStop.code, reasonMessage: STATE_REASONS.userStop.message, transitionReason: userInitiated(),
      });
      if (!moved) {
        changes.push({ id: r.id, previous: r.state, current: r.state });
        continue;
      }
      changes.push({ id: r.id, previous: r.state, current: 'stopping' });
      void this.queue.run(
        r.id,
        async () => {
          const backendId = await this.requireBackend(r.id);
          await this.compute.stop(backendId, { force });
          await this.repo.transition(r.id, ['stopping'], 'stopped');
        },
        async (e) => {
          this.log.error('stop failed', { instanceId: r.id, error: (e as Error)?.message });
          await this.refresh(r.id);
        },
      );
    }
    return changes;
  }

  async checkReboot(accountId: string, ids: string[]): Promise<InstanceRow[]> {
    const rows = await this.get(accountId, ids);
    for (const r of rows) {
      if (r.state === 'terminated' || r.state === 'shutting-down') {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${r.id}' is not in a state from which it can be rebooted.`);
      }
    }
    return rows;
  }

  async reboot(accountId: string, ids: string[]): Promise<void> {
    const rows = await this.checkReboot(accountId, ids);
    for (const r of rows) {
      if (r.state !== 'running') continue; // AWS ignores reboots of instances that are not running
      void this.queue.run(
        r.id,
        async () => this.compute.reboot(await this.requireBackend(r.id)),
        (e) => this.log.error('reboot failed', { instanceId: r.id, error: (e as Error)?.message }),
      );
    }
  }

  checkTerminate(rows: InstanceRow[]): void {
    for (const r of rows) {
      if (r.disable_api_termination && r.state !== 'terminated') {
        throw new Ec2Error('OperationNotPermitted', `The instance '${r.id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
      }
    }
  }

  async terminate(accountId: string, ids: string[]): Promise<StateChange[]> {
    const rows = await this.get(accountId, ids);
    this.checkTerminate(rows);
    const changes: StateChange[] = [];
    for (const r of rows) {
      const moved = await this.repo.transition(r.id, CAN.terminate, 'shutting-down', {
        reasonCode: STATE_REASONS.userTerminate.code, reasonMessage: STATE_REASONS.userTerminate.message, transitionReason: userInitiated(),
      });
      if (!moved) {
        changes.push({ id: r.id, previous: r.state, current: r.state });
        continue;
      }
      changes.push({ id: r.id, previous: r.state, current: 'shutting-down' });
      this.enqueueDestroy(r.id);
    }
    return changes;
  }

  private enqueueDestroy(id: string): void {
    void this.queue.run(
      id,
      async () => {
        const row = await this.repo.instance(id);
        if (row?.backend_id) await this.compute.destroy(row.backend_id);
        await this.network.releaseIps(id);
        await this.repo.transition(id, ['shutting-down'], 'terminated');
      },
      (e) => this.log.error('terminate failed; reconciliation will retry', { instanceId: id, error: (e as Error)?.message }),
    );
  }

  private async requireBackend(id: string): Promise<string> {
    const row = await this.repo.instance(id);
    if (!row?.backend_id) throw new Error(`instance ${id} has no backend object`);
    return row.backend_id;
  }

  /** Brings one instance's record in line with its backend object. */
  async refresh(id: string): Promise<void> {
    if (this.queue.busy(id)) return;
    await this.refreshNow(id);
  }

  /** `refresh` for a caller that is itself the instance's queued work. */
  private async refreshNow(id: string): Promise<void> {
    const row = await this.repo.instance(id);
    if (!row || !row.backend_id) return;
    const actual = await this.compute.state(row.backend_id);
    if (actual === 'running' && (row.state === 'pending' || row.state === 'stopped')) {
      await this.repo.transition(id, [row.state], 'running', { reasonCode: null, reasonMessage: null });
    } else if (actual === 'stopped' && (row.state === 'running' || row.state === 'pending' || row.state === 'stopping')) {
      if (row.state === 'running' && row.shutdown_behavior === 'terminate') {
        await this.repo.transition(id, ['running'], 'shutting-down', { reasonCode: STATE_REASONS.guestShutdown.code, reasonMessage: STATE_REASONS.guestShutdown.message });
        this.enqueueDestroy(id);
        return;
      }
      const reason = row.state === 'stopping' ? {} : { reasonCode: STATE_REASONS.guestShutdown.code, reasonMessage: STATE_REASONS.guestShutdown.message, transitionReason: `Instance initiated shutdown (${new Date().toISOString()})` };
      await this.repo.transition(id, [row.state], 'stopped', reason);
    } else if (actual === 'missing' && row.state !== 'shutting-down') {
      await this.repo.transition(id, [row.state], 'terminated', { reasonCode: STATE_REASONS.missing.code, reasonMessage: STATE_REASONS.missing.message });
      await this.network.releaseIps(id);
    }
  }

  /**
   * One reconciliation pass over every account: adopt, resume, finish, report and remove, then purge
   * terminated instances past their retention.
   */
  async reconcile(): Promise<void> {
    const onHost = await this.compute.list();
    const byInstance = new Map(onHost.map((o) => [o.instanceId, o]));
    const rows = await this.repo.liveInstances();
    for (const row of rows) {
      if (this.queue.busy(row.id)) continue;
      if (row.backend !== this.compute.name) continue;
      const obj = byInstance.get(row.id);
      if (!row.backend_id) {
        if (obj || row.state === 'pending') this.enqueueLaunch(row.id, { adopt: true });
        else if (row.state === 'shutting-down') this.enqueueDestroy(row.id);
        continue;
      }
      if (row.state === 'shutting-down') {
        this.enqueueDestroy(row.id);
      } else if (row.state === 'stopping') {
        void this.queue.run(row.id, async () => {
          // Fresh read: the snapshot may predate a stop that finished and a start that followed it.
          const now = await this.repo.instance(row.id);
          if (now?.state !== 'stopping' || !now.backend_id) return;
          await this.compute.stop(now.backend_id, { force: false });
          await this.repo.transition(row.id, ['stopping'], 'stopped');
        }, (e) => this.log.error('reconcile: stop failed', { instanceId: row.id, error: (e as Error)?.message }));
      } else {
        await this.refresh(row.id);
      }
    }
    for (const obj of onHost) {
      const row = rows.find((r) => r.id === obj.instanceId);
      if (row) continue;
      if (this.queue.busy(obj.instanceId)) continue;
      this.log.warn('reconcile: removing a backend object that has no live instance record', { instanceId: obj.instanceId, backendId: obj.backendId });
      await this.compute.destroy(obj.backendId).catch((e) => this.log.error('reconcile: remove failed', { backendId: obj.backendId, error: (e as Error).message }));
    }
    const purged = await this.repo.purgeTerminated(new Date(Date.now() - this.opts.retentionMs));
    if (purged.length) {
      await this.opts.onPurged?.(purged);
      this.log.info('purged terminated instances', { count: purged.length });
    }
  }

  async consoleOutput(row: InstanceRow): Promise<string> {
    if (!row.backend_id) return '';
    return this.compute.consoleOutput(row.backend_id).catch(() => '');
  }

  async modify(row: InstanceRow, attrs: { instanceType?: string; userData?: Buffer | null; disableApiTermination?: boolean; disableApiStop?: boolean; shutdownBehavior?: string }): Promise<void> {
    if (attrs.instanceType !== undefined || attrs.userData !== undefined) {
      if (row.state !== 'stopped') {
        throw new Ec2Error('IncorrectInstanceState', `The instance '${row.id}' is not in the 'stopped' state.`);
      }
    }
    if (attrs.instanceType !== undefined) {
      const t = instanceType(attrs.instanceType);
      if (!t) throw new Ec2Error('InvalidParameterValue', `Invalid value '${attrs.instanceType}' for InstanceType.`);
      if (row.backend_id) await this.compute.resize(row.backend_id, t.vcpus, t.memoryMiB);
    }
    if (attrs.shutdownBehavior !== undefined && attrs.shutdownBehavior !== 'stop' && attrs.shutdownBehavior !== 'terminate') {
      throw new Ec2Error('InvalidParameterValue', `Value (${attrs.shutdownBehavior}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
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
   * shut down for a consistent image and started again, unless `noReboot` (then the backend captures it
   * live where it can). Its EC2 state stays 'running' throughout, as for a reboot.
   */
  capture(row: InstanceRow, imageId: string, noReboot: boolean): Promise<BackendImageInfo> {
    return new Promise((resolve, reject) => {
      void this.queue.run(
        row.id,
        async () => {
          const backendId = await this.requireBackend(row.id);
          const running = (await this.compute.state(backendId)) === 'running';
          if (!running || noReboot) return resolve(await this.compute.captureImage(backendId, imageId));
          await this.compute.stop(backendId, { force: false });
          try {
            resolve(await this.compute.captureImage(backendId, imageId));
          } finally {
            await this.compute.start(backendId);
          }
        },
        (e) => reject(e),
      );
    });
  }

  async screenshot(id: string, accountId: string): Promise<Buffer> {
    const [row] = await this.get(accountId, [id]);
    if (!this.compute.consoleScreenshot) throw new Ec2Error('UnsupportedOperation', 'This backend has no graphical console.');
    return this.compute.consoleScreenshot(await this.requireBackend(row!.id));
  }

  /** Where the instance's graphical console (VNC) listens, for backends that have one. */
  async console(id: string, accountId: string): Promise<{ vncUrl?: string }> {
    const [row] = await this.get(accountId, [id]);
    if (!this.compute.consoleInfo || !row!.backend_id || row!.state !== 'running') return {};
    return this.compute.consoleInfo(row!.backend_id);
  }

}

/** The VPC router's address: the subnet's first address after the network address. */
export function gatewayOf(cidr: string): string {
  const [base] = cidr.split('/') as [string];
  const parts = base.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}
