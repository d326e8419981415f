/**
 * RunInstances: records every instance as pending, each with its private address allocated in the same
 * transaction (so a crash can leave neither an address without a record nor a record without one), then queues
 * the launches. Idempotent per ClientToken.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { NetworkService } from '../network/index.js';
import { randomMac, type LaunchPlan } from './launch.js';
import type { InstanceQueue } from './queue.js';
import { STEPS_AT_INSERT } from './steps.js';
import type { Transaction } from '../../db/sql.js';

export interface RunDeps {
  repo: ComputeRepository;
  network: NetworkService;
  queue: InstanceQueue;
  backendName: string;
  /** Queues the launch of a recorded instance (work.launch in its queue). */
  launch(id: string): void;
}

export async function runInstances(
  d: RunDeps,
  accountId: string,
  plan: LaunchPlan,
  tagWriter: ((ids: string[]) => Promise<void>) | undefined,
): Promise<InstanceRow[]> {
  if (plan.clientToken) {
    const existing = await d.repo.byClientToken(accountId, plan.clientToken);
    if (existing.length) return sameLaunch(existing, plan);
  }
  const reservationId = newId('reservation');
  const ids: string[] = [];
  let release: (() => void) | undefined;
  try {
    await d.repo.tx(async (t) => {
      for (let i = 0; i < plan.count.max; i++) {
        const id = newId('instance');
        const existing = plan.primary.existing;
        const eniId = existing?.id ?? newId('networkInterface');
        const mac = existing?.mac_address ?? randomMac();
        let ip: string;
        if (existing) {
          // An existing ENI at device index 0 (MaxCount is 1): attached in this transaction, its address the instance's.
          await attachExisting(d, existing.id, id, 0, plan.primary.deleteOnTermination, t);
          ip = existing.ips[0]!;
        } else {
          try {
            // The primary ENI, attached at device index 0, owns the address.
            ip = await d.network.createEni(
                {
                  id: eniId, account_id: accountId, vpc_id: plan.subnet.vpc_id, subnet_id: plan.subnet.id,
                  availability_zone: plan.subnet.availability_zone, mac_address: mac, security_group_ids: plan.securityGroupIds,
                  instance_id: id, device_index: 0, attachment_id: newId('networkInterfaceAttachment'),
                  description: plan.primary.description, delete_on_termination: plan.primary.deleteOnTermination,
                },
                plan.subnet,
                i === 0 ? plan.privateIp : undefined,
                t,
                plan.secondary,
              );
          } catch (e) {
            // Launch as many as the subnet allows, as long as that is at least MinCount.
            if (i >= plan.count.min && e instanceof Ec2Error && e.code === 'InsufficientFreeAddressesInSubnet') break;
            throw e;
          }
        }
        // The other interfaces, each attached at its device index in the same transaction (a full subnet fails
        // the launch: its primary address is already taken in this transaction).
        for (const x of plan.extraInterfaces) {
          if (x.existing) {
            await attachExisting(d, x.existing.id, id, x.deviceIndex, x.deleteOnTermination, t);
            continue;
          }
          await d.network.createEni(
            {
              id: newId('networkInterface'), account_id: accountId, vpc_id: x.subnet.vpc_id, subnet_id: x.subnet.id,
              availability_zone: x.subnet.availability_zone, mac_address: randomMac(), security_group_ids: x.groups,
              instance_id: id, device_index: x.deviceIndex, attachment_id: newId('networkInterfaceAttachment'),
              description: x.description, delete_on_termination: x.deleteOnTermination,
            },
            x.subnet,
            x.privateIp,
            t,
            x.secondary,
          );
        }
        ids.push(id);
        if (plan.associatePublicIp) await d.network.addresses.wantPublicIp(eniId, t);
        await d.repo.insertInstance(
          {
            id, account_id: accountId, reservation_id: reservationId, launch_index: i, image_id: plan.image.id,
            instance_type: plan.type.name, key_name: plan.keyPair?.name ?? null, state: 'pending', state_reason_code: 'pending',
            state_reason_message: 'pending', state_transition_reason: '', subnet_id: plan.subnet.id, vpc_id: plan.subnet.vpc_id,
            availability_zone: plan.subnet.availability_zone, private_ip: ip, mac_address: mac,
            eni_id: eniId, security_group_ids: plan.securityGroupIds, user_data: plan.userData ?? null,
            client_token: plan.clientToken ?? null, launch_fingerprint: plan.fingerprint, block_device_mappings: plan.blockDeviceMappings,
            disable_api_termination: plan.disableApiTermination, disable_api_stop: plan.disableApiStop,
            shutdown_behavior: plan.shutdownBehavior, backend: d.backendName, backend_id: null, steps_done: STEPS_AT_INSERT,
            metadata_options: plan.metadataOptions,
          },
          t,
        );
      }
      // Busy before the commit: reconciliation must not take a launch committed a moment ago for an interrupted one.
      release = d.queue.reserve(ids);
    });
  } catch (e) {
    release?.();
    // A concurrent request with the same ClientToken won the race: answer with its instances.
    if (plan.clientToken && /unique|duplicate/i.test(e instanceof Error ? e.message : '')) {
      const existing = await d.repo.byClientToken(accountId, plan.clientToken);
      if (existing.length) return sameLaunch(existing, plan);
    }
    throw e;
  }
  try {
    // Queued at once, before the answer is made: the launch is most of what the caller waits for.
    for (const id of ids) d.launch(id);
  } finally {
    release?.();
  }
  // The new ENIs' membership in their groups reaches the data plane in the launch's port step (before the instance
  // runs), not here: the answer does not wait for the switch.
  if (tagWriter) await tagWriter(ids);
  const rows = await d.repo.instancesByIds(accountId, ids);
  return rows.sort((a, b) => a.launch_index - b.launch_index);
}

/** Attaches an existing ENI to the instance being recorded (InvalidNetworkInterface.InUse when it was taken meanwhile). */
async function attachExisting(d: RunDeps, eniId: string, instanceId: string, deviceIndex: number, deleteOnTermination: boolean, t: Transaction): Promise<void> {
  if (!(await d.network.enis.attach(eniId, instanceId, deviceIndex, newId('networkInterfaceAttachment'), { deleteOnTermination, t }))) {
    throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eniId}] in use.`);
  }
}

/** The instances of an earlier launch with this ClientToken, if it asked for the same thing. */
function sameLaunch(existing: InstanceRow[], plan: LaunchPlan): InstanceRow[] {
  if (existing[0]!.launch_fingerprint && existing[0]!.launch_fingerprint !== plan.fingerprint) {
    throw new Ec2Error('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
  }
  return existing;
}
