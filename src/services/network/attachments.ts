/**
 * AttachNetworkInterface / DetachNetworkInterface on the records. The rules are written once (checkAttach,
 * checkDetach) and run twice: on what the records say when the request is validated (so a DryRun answers as the
 * real call would), and again when the attachment is written, inside the transaction that holds the instance's row
 * lock. Every attachment change of one instance takes that lock first, and its state transitions (Stop,
 * Terminate: an UPDATE of the row) wait for it too, so two requests at once cannot both pass the device-index or
 * interface-limit check, and no attachment is written to an instance whose termination has begun (whose
 * interfaces are then released: services/instances/network-steps.ts, eniStep.undo).
 */
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import { instanceType } from '../../domain/instance-types.js';
import type { AttachTarget, EniRepository, EniRow } from '../../db/repositories/enis.js';
import type { Transaction } from '../../db/sql.js';

export interface AttachRequest {
  networkInterfaceId: string;
  instanceId: string;
  deviceIndex: number | undefined;
}

/** What the attachment rules read: the ENI, the instance, the interfaces attached to it. */
interface AttachView {
  eni: EniRow | undefined;
  inst: AttachTarget | undefined;
  attached: EniRow[];
}

/** AttachNetworkInterface's rules, in AWS's order; the ENI, instance and device index when they pass. */
export function checkAttach(req: AttachRequest, { eni, inst, attached }: AttachView): { eni: EniRow; inst: AttachTarget; index: number } {
  if (!eni) throw notFound('InvalidNetworkInterfaceID', 'network interface ID', [req.networkInterfaceId]);
  if (!inst || inst.state === 'terminated') throw notFound('InvalidInstanceID', 'instance ID', [req.instanceId]);
  if (eni.instance_id) throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
  const index = req.deviceIndex;
  if (index === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter deviceIndex');
  if (!Number.isInteger(index) || index < 0 || index > 31) throw new Ec2Error('InvalidParameterValue', `Value (${index}) for parameter deviceIndex is invalid.`);
  if (inst.state !== 'running' && inst.state !== 'stopped') {
    throw new Ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in a valid state for this operation.`);
  }
  if (eni.availability_zone !== inst.availability_zone) {
    throw new Ec2Error('InvalidParameterCombination', `The network interface and the instance must be in the same availability zone (${eni.availability_zone} vs ${inst.availability_zone}).`);
  }
  if (attached.some((e) => e.device_index === index)) {
    throw new Ec2Error('InvalidParameterValue', `Instance '${inst.id}' already has an interface attached at device index '${index}'.`);
  }
  const limit = instanceType(inst.instance_type)?.maxEnis;
  if (limit !== undefined && attached.length + 1 > limit) {
    throw new Ec2Error('AttachmentLimitExceeded', `Interface count ${attached.length + 1} exceeds the limit for ${inst.instance_type}`);
  }
  return { eni, inst, index };
}

/** DetachNetworkInterface's rules: the attachment exists (in the account) and is not the primary interface's. */
export function checkDetach(attachmentId: string, eni: EniRow | undefined): EniRow & { instance_id: string } {
  if (!eni?.instance_id) throw new Ec2Error('InvalidAttachmentID.NotFound', `The interface attachment ID '${attachmentId}' does not exist`);
  if (eni.device_index === 0) throw new Ec2Error('OperationNotPermitted', 'The network interface at device index 0 cannot be detached.');
  return eni as EniRow & { instance_id: string };
}

export class EniAttachments {
  constructor(private readonly enis: EniRepository) {}

  /** The records as the rules read them; inside `t`, the instance's row locked first. */
  private async view(accountId: string, req: AttachRequest, t?: Transaction): Promise<AttachView> {
    const inst = await this.enis.attachTarget(accountId, req.instanceId, t && { t });
    const [eni] = await this.enis.ofAccount(accountId, [req.networkInterfaceId], t);
    const attached = inst ? await this.enis.ofInstance(inst.id, t) : [];
    return { eni, inst, attached };
  }

  /** AttachNetworkInterface's checks on the records as they are (validate). */
  async checkAttach(accountId: string, req: AttachRequest): Promise<void> {
    checkAttach(req, await this.view(accountId, req));
  }

  /** Records the attachment: the rules again under the instance's lock, then the write, in one transaction. */
  async attach(accountId: string, req: AttachRequest): Promise<{ attachmentId: string; eni: EniRow; instanceId: string }> {
    const attachmentId = newId('networkInterfaceAttachment');
    return this.enis.tx(async (t) => {
      const { eni, inst, index } = checkAttach(req, await this.view(accountId, req, t));
      // The ENI's own row is not locked: an attachment of it to another instance, committed meanwhile, fails this.
      if (!(await this.enis.attach(eni.id, inst.id, index, attachmentId, { t }))) {
        throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
      }
      return { attachmentId, eni, instanceId: inst.id };
    });
  }

  /** DetachNetworkInterface's checks on the records as they are (validate). */
  async checkDetach(accountId: string, attachmentId: string): Promise<EniRow> {
    return checkDetach(attachmentId, await this.enis.byAttachment(accountId, attachmentId));
  }

  /** Removes the attachment, checked again under its instance's lock; the ENI as it was attached. */
  async detach(accountId: string, attachmentId: string): Promise<EniRow & { instance_id: string }> {
    return this.enis.tx(async (t) => {
      const seen = await this.enis.byAttachment(accountId, attachmentId, t);
      if (seen?.instance_id) await this.enis.attachTarget(accountId, seen.instance_id, { t });
      const eni = checkDetach(attachmentId, await this.enis.byAttachment(accountId, attachmentId, t));
      await this.enis.detach(eni.id, { attachmentId, t });
      return eni;
    });
  }
}
