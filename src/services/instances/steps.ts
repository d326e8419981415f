/**
 * An instance's making, as an ordered list of steps, each with its undo:
 *
 *   launch:     every `launch` step in order, then every `boot` step in order
 *   start:      every `boot` step in order
 *   stop:       every `boot` step's undo, in reverse
 *   terminate:  every step's undo, in reverse (also after a failed launch)
 *
 * Each step is journaled in the instance's record (steps_done) as it is done and undone, so that
 * reconciliation reads from the records how far a launch got. A crash can fall between a step's effect and its
 * journal entry, so `do` and `undo` are idempotent: `do` finishes or redoes what a crash left, `undo` removes
 * whatever is there, also what a `do` cut short made. Launch steps journaled done are skipped when a launch is
 * resumed; boot steps are done again at every boot.
 *
 * Adding a step (an EBS volume to create and attach, an ENI to plug into the VPC switch ...) is adding one
 * entry to INSTANCE_STEPS with its `do` and `undo`. A step that needs nothing of the one after it may be done at
 * the same time (`alongsideNext`: the boot's port and public address beside the start); undo stays in reverse.
 */
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { ComputeBackend, InstanceSpec } from '../../ports/index.js';
import type { NetworkService } from '../network/index.js';
import type { ComputeRepository } from '../../db/repositories/compute.js';
import { eniStep, plugStep, portStep, publicIpStep, syncVmNics } from './network-steps.js';
import { rootVolumeStep, volumesStep, type LaunchVolumes, type RootImage } from './volume-step.js';

export interface StepContext {
  /** The instance's record, read afresh just before the step. */
  row: InstanceRow;
  compute: ComputeBackend;
  network: NetworkService;
  /** What the compute backend is to make for this record (resolved from the records when asked). */
  spec(row: InstanceRow): Promise<InstanceSpec>;
  /** For undo: take things down at once rather than gracefully (terminate, StopInstances with Force). */
  force: boolean;
  /** EBS volumes of the launch's block device mappings (./volume-step.ts) */
  volumes?: LaunchVolumes;
  /** The image a root volume is cloned from (./volume-step.ts) */
  rootImage?(row: InstanceRow): Promise<RootImage>;
}

/** What a step changed in the record beside its journal entry (written in the same update). */
export interface StepResult {
  backendId?: string | null;
  /**
   * Nothing was made (a root on the image, no data volumes): the journal entry is written with the next step's,
   * one database write fewer on the launch's critical path. A crash in between only does the step again, which
   * makes nothing again.
   */
  nothingMade?: boolean;
}

export interface InstanceStep {
  name: string;
  /** `launch`: done once, at launch, undone at terminate. `boot`: done at every start, undone at every stop. */
  phase: 'launch' | 'boot';
  /**
   * Done at the same time as the step after it (same phase), because neither needs the other: both are awaited,
   * each journaled as it finishes, and a failure of either fails the pair once both have settled (so no undo runs
   * beside a `do`). Their undos run in reverse order as usual.
   */
  alongsideNext?: boolean;
  /**
   * Its journal entry is written with the next step's: one database write fewer on the launch's critical path.
   * Only for a boot step, done again at every boot whatever its entry says, and undone whether journaled or not.
   */
  journalWithNext?: boolean;
  do(ctx: StepContext): Promise<StepResult | void>;
  undo(ctx: StepContext): Promise<StepResult | void>;
}

/** The backend object (container, domain), made and not started. */
const backend: InstanceStep = {
  name: 'backend',
  phase: 'launch',
  async do(ctx) {
    // An object for this instance whose making was never journaled may be half made (a crash between Docker's
    // create and the copy of the first-boot files): it is removed and made anew.
    const stray = await ctx.compute.find(ctx.row.id);
    if (stray) await ctx.compute.destroy(stray.backendId);
    const { backendId } = await ctx.compute.create(await ctx.spec(ctx.row));
    return { backendId };
  },
  async undo({ row, compute }) {
    if (row.backend_id) await compute.destroy(row.backend_id);
    const stray = await compute.find(row.id);
    if (stray) await compute.destroy(stray.backendId);
    return { backendId: null };
  },
};

/** The object runs (started, or resumed when paused). */
const power: InstanceStep = {
  name: 'power',
  phase: 'boot',
  // The plug comes right after the start; both are written with its entry.
  journalWithNext: true,
  async do({ row, compute, network }) {
    if (!row.backend_id) throw new Error(`instance ${row.id} has no backend object to start`);
    // A VM's domain with one NIC per attached ENI (some attached or detached while it was stopped).
    await syncVmNics(compute, network, row.id, row.backend_id);
    await compute.start(row.backend_id);
  },
  async undo({ row, compute, force }) {
    if (!row.backend_id) return;
    const state = await compute.state(row.backend_id);
    if (state === 'missing' || state === 'stopped') return;
    await compute.stop(row.backend_id, { force });
  },
};

/**
 * At boot, the port, the public address and the start of the object go at once (none needs another), then the
 * plug, which needs the started object's namespace.
 */
export const INSTANCE_STEPS: readonly InstanceStep[] = [eniStep, rootVolumeStep, backend, volumesStep, portStep, publicIpStep, power, plugStep];

/** The step that makes the backend object: until it is journaled done, a pending instance is still launching. */
export const BACKEND_STEP = backend.name;

/** The journal of a record just inserted with its ENI and address made in the same transaction. */
export const STEPS_AT_INSERT = [eniStep.name];

export interface StepRunnerDeps {
  repo: ComputeRepository;
  compute: ComputeBackend;
  network: NetworkService;
  spec(row: InstanceRow): Promise<InstanceSpec>;
  volumes?: LaunchVolumes;
  rootImage?(row: InstanceRow): Promise<RootImage>;
}

export class StepRunner {
  constructor(
    private readonly deps: StepRunnerDeps,
    private readonly steps: readonly InstanceStep[] = INSTANCE_STEPS,
  ) {}

  private context(row: InstanceRow, force: boolean): StepContext {
    return { row, compute: this.deps.compute, network: this.deps.network, spec: this.deps.spec, force, volumes: this.deps.volumes, rootImage: this.deps.rootImage };
  }

  /**
   * Does the steps of `phase` in order, each on a fresh read of the record, while the instance is in one of
   * `states`. Launch steps journaled done are skipped. Returns false (having stopped) when the instance left
   * those states meanwhile: a later command (terminate, stop) owns it then.
   */
  async forward(id: string, phase: 'launch' | 'boot', states: readonly string[]): Promise<boolean> {
    const steps = this.steps.filter((s) => s.phase === phase);
    const deferred: string[] = [];
    for (let i = 0; i < steps.length; i++) {
      const row = await this.deps.repo.instance(id);
      if (!row || !states.includes(row.state)) return false;
      // A step done alongside the next one: both from this read of the record.
      const group = [steps[i]!];
      while (group[group.length - 1]!.alongsideNext && i + 1 < steps.length) group.push(steps[++i]!);
      const todo = group.filter((step) => !(phase === 'launch' && row.steps_done.includes(step.name)));
      const settled = await Promise.allSettled(todo.map((step) => this.doStep(id, row, step, deferred)));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
    if (deferred.length) await this.deps.repo.markSteps(id, deferred.splice(0), true);
    return true;
  }

  private async doStep(id: string, row: InstanceRow, step: InstanceStep, deferred: string[]): Promise<void> {
    const t0 = performance.now();
    const { nothingMade, ...result } = (await step.do(this.context(row, false))) ?? {};
    const t1 = performance.now();
    const later = nothingMade || (step.journalWithNext && step.phase === 'boot' && !Object.keys(result).length);
    if (later && !step.alongsideNext) deferred.push(step.name);
    else await this.deps.repo.markSteps(id, [...deferred.splice(0), step.name], true, result);
    if (process.env.THECLOUD_TRACE_EXEC === '1') process.stderr.write(`[@${t0.toFixed(0)} step ${step.name} ${(t1 - t0).toFixed(0)} ms, journal ${(performance.now() - t1).toFixed(0)} ms]\n`);
  }

  /**
   * Undoes the steps of `phase` (or all of them) in reverse, each on a fresh read of the record: done, half done
   * or never done alike, since undo is idempotent.
   */
  async backward(id: string, phase: 'boot' | 'all', opts: { force: boolean }): Promise<void> {
    const steps = this.steps.filter((s) => phase === 'all' || s.phase === phase);
    for (const step of [...steps].reverse()) {
      const row = await this.deps.repo.instance(id);
      if (!row) return;
      const { nothingMade: _, ...result } = (await step.undo(this.context(row, opts.force))) ?? {};
      await this.deps.repo.markSteps(id, [step.name], false, result);
    }
  }

  /**
   * Does one boot step again (the plug, after a reboot or a capture restarted the object: a container's
   * network namespace is new then).
   */
  async redo(id: string, name: string): Promise<void> {
    const step = this.steps.find((s) => s.name === name);
    const row = await this.deps.repo.instance(id);
    if (!step || !row) return;
    await step.do(this.context(row, false));
  }

  /** The first launch step not journaled done (what a resumed launch starts with), for logs. */
  nextLaunchStep(row: InstanceRow): string | undefined {
    return this.steps.find((s) => s.phase === 'launch' && !row.steps_done.includes(s.name))?.name;
  }
}
