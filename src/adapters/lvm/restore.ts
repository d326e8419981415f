/**
 * Restoring an EBS snapshot into its volume in place, on thin LVM, so that the volume (and only it) gets the
 * snapshot's bytes and the snapshot itself survives unchanged.
 *
 * `lvconvert --merge S` always merges a thin snapshot S into S's own origin (the merged snapshot replaces its
 * origin and is gone). So merging "a temporary snapshot of the EBS snapshot" would merge into the EBS snapshot,
 * not into the volume: the wrong-volume mistake of the Go original. Two paths, chosen by S's origin:
 * - S's origin is the volume (the snapshot was taken of it, and the volume is still that LV): first a keeper (a
 *   thin snapshot of S, instant, the same bytes), then `lvconvert --merge S` into the deactivated volume, then the
 *   keeper is renamed to S. The volume keeps its LV (UUID, tags).
 * - otherwise (the volume was made from the snapshot, or its origin is gone): a thin snapshot of S is made, grown
 *   to the volume's size, and swapped in for the volume by two renames; the old volume LV is removed.
 * Either way the volume keeps at least its size. Each step leaves names from which repairRestores() finishes or
 * undoes an interrupted restore; the next restore and reconciliation call it.
 */
import type { Runner } from '../exec/index.js';
import { keeperLv, replacedLv, restoreLv, tagArgs, TEMP_LV } from './names.js';
import { GiB, tagValue, type LvInfo } from './report.js';

export interface RestoreContext {
  run: Runner;
  vg: string;
  cloudId?: string;
  lvs(): Promise<LvInfo[]>;
  lvm(command: string, args: string[]): Promise<void>;
}

export async function restoreInPlace(ctx: RestoreContext, snapshot: LvInfo, volume: LvInfo): Promise<void> {
  const path = (lv: string) => `${ctx.vg}/${lv}`;
  const snapFrom = tagValue(snapshot, 'thecloud.from');
  if (snapshot.origin === volume.name) {
    const keeper = keeperLv(snapshot.name);
    await ctx.lvm('lvcreate', ['-q', '-s', '-n', keeper, ...tagArgs('snapshot', snapshot.name, ctx.cloudId, snapFrom), path(snapshot.name)]);
    await ctx.lvm('lvchange', ['-q', '-an', path(volume.name)]); // a merge into an inactive origin happens at once
    await ctx.lvm('lvconvert', ['-q', '--merge', path(snapshot.name)]);
    await ctx.lvm('lvrename', ['-q', path(keeper), path(snapshot.name)]);
    await ctx.lvm('lvchange', ['-q', '-ay', path(volume.name)]);
  } else {
    const fresh = restoreLv(volume.name);
    const volFrom = tagValue(volume, 'thecloud.from');
    await ctx.lvm('lvcreate', ['-q', '-s', '-kn', '-n', fresh, ...tagArgs('volume', volume.name, ctx.cloudId, volFrom), path(snapshot.name)]);
    if (volume.sizeBytes > snapshot.sizeBytes) {
      await ctx.lvm('lvextend', ['-q', '-L', `${volume.sizeBytes / GiB}g`, path(fresh)]);
    }
    await ctx.lvm('lvrename', ['-q', path(volume.name), path(replacedLv(volume.name))]);
    await ctx.lvm('lvrename', ['-q', path(fresh), path(volume.name)]);
    await ctx.lvm('lvremove', ['-q', '-y', path(replacedLv(volume.name))]);
    return;
  }
  // After a merge the volume has the snapshot's size: grow it back to what it was.
  if (volume.sizeBytes > snapshot.sizeBytes) await ctx.lvm('lvextend', ['-q', '-L', `${volume.sizeBytes / GiB}g`, path(volume.name)]);
}

/** Finishes or undoes interrupted restores from the temporary LVs they left. Returns what it did. */
export async function repairRestores(ctx: RestoreContext, lvs: LvInfo[]): Promise<string[]> {
  const path = (lv: string) => `${ctx.vg}/${lv}`;
  const mineOf = (all: LvInfo[]) =>
    all.filter((lv) => lv.tags.includes('thecloud.managed') && (!ctx.cloudId || lv.tags.includes(`thecloud.cloud=${ctx.cloudId}`)));
  const mine = mineOf(lvs);
  const has = (name: string) => mine.some((lv) => lv.name === name);
  const done: string[] = [];
  for (const lv of mine) {
    const m = TEMP_LV.exec(lv.name);
    if (!m) continue;
    const [, kind, id] = m as unknown as [string, 'rst' | 'old' | 'keep', string];
    if (kind === 'keep') {
      if (has(id)) {
        await ctx.lvm('lvremove', ['-q', '-y', path(lv.name)]); // the merge had not happened: the snapshot is intact
        done.push(`removed ${lv.name} (restore of ${id} had not merged)`);
      } else {
        await ctx.lvm('lvrename', ['-q', path(lv.name), path(id)]);
        done.push(`renamed ${lv.name} to ${id} (restore of ${id} had merged)`);
      }
      for (const vol of mine.filter((v) => v.attr[4] !== 'a' && /^vol-/.test(v.name))) {
        await ctx.lvm('lvchange', ['-q', '-ay', path(vol.name)]);
      }
    } else if (kind === 'rst') {
      if (has(id)) {
        await ctx.lvm('lvremove', ['-q', '-y', path(lv.name)]);
        done.push(`removed ${lv.name} (restore into ${id} had not swapped)`);
      } else {
        await ctx.lvm('lvrename', ['-q', path(lv.name), path(id)]);
        done.push(`renamed ${lv.name} to ${id} (finished the swap)`);
      }
    }
  }
  // The old LVs of a swap: removed once the volume exists again; renamed back if nothing replaced them.
  const now = done.length ? mineOf(await ctx.lvs()) : mine; // nothing done: the listing still holds (reconciliation runs this every pass)
  for (const lv of now.filter((x) => x.name.startsWith('old.'))) {
    const id = lv.name.slice('old.'.length);
    if (now.some((x) => x.name === id)) {
      await ctx.lvm('lvremove', ['-q', '-y', path(lv.name)]);
      done.push(`removed ${lv.name} (replaced by a restore)`);
    } else {
      await ctx.lvm('lvrename', ['-q', path(lv.name), path(id)]);
      done.push(`renamed ${lv.name} back to ${id}`);
    }
  }
  return done;
}
