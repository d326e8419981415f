/**
 * What the root-volume tests read: the boot counter the test VM image keeps on its root disk (its init prints
 * "thecloud: boot number N" at every boot), and an installation's LVs on the storage host with their UUIDs (an LV
 * that keeps its UUID is the same LV, whatever its name).
 */
import assert from 'node:assert/strict';
import { testStorage } from './storage.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The boot numbers printed on a console so far. */
export function bootNumbers(console: string): number[] {
  return [...console.matchAll(/thecloud: boot number (\d+)/g)].map((m) => Number(m[1]));
}

/** Waits (up to 5 min) until `count` boots are on the console, then a little longer for the boot to finish. */
export async function waitBoots(consoleOutput: () => Promise<string>, count: number): Promise<number[]> {
  let b: number[] = [];
  for (let i = 0; i < 1500 && b.length < count; i++) {
    b = bootNumbers(await consoleOutput());
    if (b.length < count) await sleep(200);
  }
  assert.equal(b.length, count, `boot ${count} seen on the console (saw ${b.join(',')})`);
  await sleep(3000); // "boot finished" follows the counter's write and a sync
  return b;
}

/** This installation's LVs on the storage host: name -> LV UUID. */
export async function lvUuids(cloudId: string): Promise<Map<string, string>> {
  const { host, vg } = testStorage(cloudId);
  const r = await host.run('lvs', ['--reportformat', 'json', '-o', 'lv_name,lv_uuid,lv_tags', vg], { readOnly: true });
  const lvs = (JSON.parse(r.stdout).report[0].lv ?? []) as Array<{ lv_name: string; lv_uuid: string; lv_tags: string }>;
  return new Map(lvs.filter((lv) => lv.lv_tags.split(',').includes(`thecloud.cloud=${cloudId}`)).map((lv) => [lv.lv_name, lv.lv_uuid]));
}
