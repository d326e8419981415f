/**
 * `npm run doctor`: whether each configured backend's host dependency is reachable, and what other The Cloud
 * installations left on this host (Docker containers and networks, libvirt domains, Open vSwitch bridges that
 * carry another installation's id, or none and belong to no resource of this one). A gone installation's Docker
 * networks keep their address ranges and block every other installation's launches into the same ranges, but
 * the server never removes another installation's objects: doctor lists them, and
 *
 *   npm run doctor -- --remove-leftovers <installation id | none>
 *
 * removes those of the installation named (none: the objects that carry no installation id).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Config } from '../config/index.js';
import { createBackends, createStorage } from '../adapters/index.js';
import type { HostInventory, HostObject } from '../ports/index.js';
import { errorText } from '../errors/text.js';
import { postmasterStatus } from '../db/postmaster.js';
import { startEmbeddedPostgres } from '../db/embedded.js';

/** What this installation's records own: its id and the resources its host objects are named after. */
export interface Ownership {
  installation?: string;
  resources: Set<string>;
}

async function readOwnership(url: string): Promise<Ownership> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const q = async (sql: string) => (await client.query(sql).catch(() => ({ rows: [] as Record<string, string>[] }))).rows;
    const [inst] = await q('SELECT id FROM installation');
    const resources = new Set<string>();
    for (const sql of ['SELECT id FROM vpcs', 'SELECT id FROM subnets', `SELECT id FROM instances WHERE state <> 'terminated'`]) {
      for (const r of await q(sql)) resources.add(String(r.id));
    }
    return { installation: inst?.id as string | undefined, resources };
  } finally {
    await client.end();
  }
}

/** This installation's records: from DATABASE_URL, the running server's embedded PostgreSQL, or a short start of it. */
async function ownership(config: Config): Promise<{ own: Ownership; where: string }> {
  if (config.databaseUrl) return { own: await readOwnership(config.databaseUrl), where: `DATABASE_URL (${config.databaseUrl.replace(/:[^:@/]*@/, ':***@')})` };
  const dir = join(resolve(config.dataDir), 'postgres');
  const where = `embedded PostgreSQL in ${dir}`;
  if (!existsSync(join(dir, 'PG_VERSION'))) return { own: { resources: new Set() }, where: `${where} (not made yet: no installation here)` };
  const running = postmasterStatus(dir);
  if (running.kind === 'running' && running.port) {
    return { own: await readOwnership(`postgres://thecloud:thecloud@127.0.0.1:${running.port}/thecloud`), where: `${where} (the running server's)` };
  }
  const db = await startEmbeddedPostgres(config.dataDir, () => undefined);
  try {
    return { own: await readOwnership(db.url), where };
  } finally {
    await db.stop();
  }
}

/** Every kind of host object, whatever backend this installation is configured for: others may have used another. */
async function inventories(config: Config): Promise<HostInventory[]> {
  const { DockerInventory } = await import('../adapters/docker/inventory.js');
  const { LibvirtInventory } = await import('../adapters/libvirt/inventory.js');
  const { OvsInventory } = await import('../adapters/ovs/inventory.js');
  return [new DockerInventory(config.dockerSocket, config.dockerBootDir), new LibvirtInventory(config.libvirtUri), new OvsInventory()];
}

export function isOurs(o: HostObject, own: Ownership): boolean {
  if (o.installation) return o.installation === own.installation;
  return o.owner !== '' && own.resources.has(o.owner);
}

const label = (installation: string) => installation || 'none';

export async function doctor(config: Config, args: string[]): Promise<number> {
  let ok = true;
  for (const [kind, backend] of Object.entries(await createBackends(config))) {
    const r = await backend.probe();
    ok &&= r.ok;
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${kind.padEnd(8)} ${backend.name.padEnd(8)} ${r.detail}`);
  }
  if (config.storageBackend !== 'lvm') {
    // Not in use, so not a failure; but whether STORAGE_BACKEND=lvm would work is worth knowing.
    const lvm = await createStorage({ ...config, storageBackend: 'lvm' });
    const r = await lvm.probe();
    console.log(`info lvm      ${r.ok ? 'answers' : 'does not answer'}: ${r.detail}`);
  }
  let own: Ownership;
  try {
    const found = await ownership(config);
    own = found.own;
    console.log(`info database ${found.where}`);
    console.log(`info installation ${own.installation ?? '(none yet)'}`);
  } catch (e) {
    console.log(`FAIL database ${errorText(e)}`);
    return 1;
  }

  const removeIdx = args.indexOf('--remove-leftovers');
  const target = removeIdx >= 0 ? args[removeIdx + 1] : undefined;
  if (removeIdx >= 0 && !target) {
    console.log('FAIL --remove-leftovers needs an installation id (or none), as listed by doctor');
    return 2;
  }
  if (target && target === own.installation) {
    console.log(`FAIL ${target} is this installation: its objects are reconciled by the server, not removed by doctor`);
    return 2;
  }

  const leftovers: { inv: HostInventory; o: HostObject }[] = [];
  for (const inv of await inventories(config)) {
    const objects = await inv.objects().catch((e: unknown) => {
      console.log(`info leftovers ${inv.kind}: not looked at (${errorText(e).split('\n')[0]})`);
      return [] as HostObject[];
    });
    for (const o of objects) if (!isOurs(o, own)) leftovers.push({ inv, o });
  }

  if (target) {
    // Containers before the networks they hold and the directory of their first-boot files.
    const last = (o: HostObject) => Number(o.kind === 'docker-network' || o.kind === 'docker-boot-dir');
    const mine = leftovers.filter((l) => label(l.o.installation) === target).sort((a, b) => last(a.o) - last(b.o));
    if (!mine.length) console.log(`info no leftovers of installation ${target} on this host`);
    for (const { inv, o } of mine) {
      try {
        await inv.remove(o);
        console.log(`removed ${o.kind} ${o.name} (installation ${target})`);
      } catch (e) {
        ok = false;
        console.log(`FAIL could not remove ${o.kind} ${o.name}: ${errorText(e).split('\n')[0]}`);
      }
    }
    return ok ? 0 : 1;
  }

  if (!leftovers.length) {
    console.log('ok   leftovers none: nothing of another installation on this host');
    return ok ? 0 : 1;
  }
  const groups = new Map<string, HostObject[]>();
  for (const { o } of leftovers) groups.set(label(o.installation), [...(groups.get(label(o.installation)) ?? []), o]);
  console.log(`WARN leftovers of other installations on this host (the server never touches them):`);
  for (const [inst, objects] of groups) {
    console.log(`     installation ${inst}${inst === 'none' ? ' (objects that carry no installation id and belong to nothing of this one)' : ''}:`);
    for (const o of objects) console.log(`       ${o.kind.padEnd(16)} ${o.name}  ${o.owner ? `(${o.owner}) ` : ''}${o.detail}`);
  }
  console.log(`     if an installation is gone for good, remove what it left with:  npm run doctor -- --remove-leftovers <installation>`);
  return ok ? 0 : 1;
}
