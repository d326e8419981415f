/**
 * Random records for the describe tests, from a seed: VPCs, subnets (with addresses handed out), security
 * groups and rules, images (own, public, other accounts', deregistered), key pairs, instances and tags, for two
 * accounts, written straight into the database. Strings come from an alphabet full of the characters filters
 * treat specially (`*`, `?`, `\`) and those SQL's LIKE does (`%`, `_`), with accents and spaces.
 */
import type { Db } from '../../src/db/sql.js';
import { prng } from './child-server.js';

export { prng };

export class Dice {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  some<T>(xs: readonly T[], max: number): T[] {
    return Array.from({ length: this.int(0, max) }, () => this.pick(xs));
  }
  hex(n: number): string {
    return Array.from({ length: n }, () => '0123456789abcdef'[this.int(0, 15)]).join('');
  }
  word(max = 6): string {
    return Array.from({ length: this.int(0, max) }, () => this.pick(ALPHABET)).join('');
  }
  time(): Date {
    return new Date(Date.UTC(2024, this.int(0, 11), this.int(1, 28), this.int(0, 23), this.int(0, 59), this.int(0, 59), this.int(0, 999)));
  }
}

export const ALPHABET = ['a', 'b', 'A', 'B', '%', '_', '\\', '*', '?', '.', '-', 'ü', '€', ' ', '0', '1'];
export const TAG_KEYS = ['Name', 'env', 'Env', 'a%b', 'x_y', 'b\\s', 'k?', 'ü', 'team'];
export const ACCOUNTS = ['000000000000', '111111111111'];
export const SYSTEM_OWNER = '999999999999';

export interface Cloud {
  ids: Record<'instance' | 'vpc' | 'subnet' | 'group' | 'image' | 'keyPair' | 'keyName', string[]>;
}

/** A microsecond timestamp as PostgreSQL text, so that rows carry more precision than JavaScript's Date. */
const micro = (d: Dice) => `${d.time().toISOString().slice(0, 19)}.${String(d.int(0, 999999)).padStart(6, '0')}+00`;

export async function randomCloud(db: Db, seed: number): Promise<Cloud> {
  const d = new Dice(prng(seed));
  const ids: Cloud['ids'] = { instance: [], vpc: [], subnet: [], group: [], image: [], keyPair: [], keyName: [] };
  const ins = (table: string, row: Record<string, unknown>) => {
    const cols = Object.keys(row);
    return db.exec(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, Object.values(row));
  };
  const tagged: { id: string; type: string; account: string }[] = [];
  for (const [ai, account] of ACCOUNTS.entries()) {
    const existing = await db.rows<{ id: string }>('SELECT id FROM vpcs WHERE account_id = $1', [account]);
    const vpcs = existing.map((v) => v.id);
    for (let i = 0; i < 10; i++) {
      const id = `vpc-${d.hex(17)}`;
      vpcs.push(id);
      await ins('vpcs', { id, account_id: account, cidr_block: `10.${ai * 100 + i}.0.0/16`, is_default: false, state: d.pick(['available', 'pending']), instance_tenancy: d.pick(['default', 'dedicated']) });
      await ins('vpc_cidr_blocks', { association_id: id.replace(/^vpc-/, 'vpc-cidr-assoc-'), vpc_id: id, cidr_block: `10.${ai * 100 + i}.0.0/16`, is_primary: true, state: 'associated' });
    }
    const subnets = (await db.rows<{ id: string }>('SELECT id FROM subnets WHERE account_id = $1', [account])).map((s) => s.id);
    for (let i = 0; i < 14; i++) {
      const id = `subnet-${d.hex(17)}`;
      const mask = d.pick([20, 24, 28]);
      const cidr = mask === 20 ? `10.${ai * 100 + i}.16.0/20` : mask === 24 ? `10.${ai * 100 + i}.7.0/24` : `10.${ai * 100 + i}.9.16/28`;
      subnets.push(id);
      await ins('subnets', {
        id, account_id: account, vpc_id: d.pick(vpcs), cidr_block: cidr, availability_zone: d.pick(['us-east-1a', 'us-east-1b', 'us-east-1c', 'mars-1a']),
        default_for_az: d.chance(0.3), map_public_ip_on_launch: d.chance(0.5), state: d.pick(['available', 'pending']),
      });
      for (let k = 0, n = d.int(0, 4); k < n; k++) {
        await db.exec(`INSERT INTO ip_allocations (subnet_id, ip, owner_id) VALUES ($1, $2, 'x')`, [id, `192.168.${i}.${k + 4}`]);
      }
    }
    const groups = (await db.rows<{ id: string }>('SELECT id FROM security_groups WHERE account_id = $1', [account])).map((g) => g.id);
    for (let i = 0; i < 12; i++) {
      const id = `sg-${d.hex(17)}`;
      groups.push(id);
      await ins('security_groups', { id, account_id: account, vpc_id: d.pick(vpcs), group_name: `${d.word()}#${i}`, description: d.word() });
    }
    for (let i = 0; i < 30; i++) {
      await ins('security_group_rules', {
        id: `sgr-${d.hex(17)}`, group_id: d.pick(groups), account_id: account, is_egress: d.chance(0.4), ip_protocol: d.pick(['tcp', 'udp', '-1', 'icmp']),
        from_port: d.chance(0.3) ? null : d.int(0, 1024), to_port: d.chance(0.3) ? null : d.pick([22, 80, 443, 8080, 65535]),
        cidr_ipv4: d.pick([null, '0.0.0.0/0', `10.${d.int(0, 9)}.0.0/16`, `192.168.${d.int(0, 9)}.7/32`]),
        referenced_group_id: d.chance(0.5) ? null : d.pick([...groups, `sg-${d.hex(17)}`]), description: d.chance(0.5) ? null : d.word(),
      });
    }
    for (let i = 0; i < 12; i++) {
      const id = `ami-${d.hex(17)}`;
      const owner = d.chance(0.7) ? account : SYSTEM_OWNER;
      ids.image.push(id);
      await db.exec(
        `INSERT INTO images (id, owner_id, owner_alias, name, description, backend, backend_ref, architecture, root_device_name, size_gib, state,
           is_public, image_location, created_at) VALUES ($1,$2,$3,$4,$5,'ref','ref',$6,$7,$8,$9,$10,$11,$12::timestamptz)`,
        [id, owner, d.pick([null, 'thecloud', 'amazon']), `${d.word()}#${ai}-${i}`, d.chance(0.3) ? null : d.word(), d.pick(['x86_64', 'arm64']),
          d.pick(['/dev/xvda', '/dev/sda1']), d.int(1, 30), d.pick(['available', 'available', 'pending', 'failed', 'deregistered']), d.chance(0.4),
          d.chance(0.3) ? null : d.word(), micro(d)],
      );
      tagged.push({ id, type: 'image', account });
    }
    const keyNames: string[] = [];
    for (let i = 0; i < 9; i++) {
      const id = `key-${d.hex(17)}`;
      const name = `${d.word().replace(/[^\x20-\x7e]/g, 'x')}#${i}`;
      keyNames.push(name);
      ids.keyPair.push(id);
      ids.keyName.push(name);
      await ins('key_pairs', { id, account_id: account, name, key_type: d.pick(['rsa', 'ed25519']), fingerprint: `${d.hex(2)}:${d.hex(2)}`, public_key: 'ssh-ed25519 AAAA' });
      tagged.push({ id, type: 'key-pair', account });
    }
    const reservations = Array.from({ length: 10 }, () => `r-${d.hex(17)}`);
    const images = [...ids.image, `ami-${d.hex(17)}`];
    for (let i = 0; i < 60; i++) {
      const id = `i-${d.hex(17)}`;
      ids.instance.push(id);
      await db.exec(
        `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, key_name, state, state_reason_code,
           state_reason_message, subnet_id, vpc_id, availability_zone, private_ip, mac_address, eni_id, security_group_ids, client_token,
           backend, backend_id, launch_time)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,'ref',$19,$20::timestamptz)`,
        [id, account, d.pick(reservations), d.int(0, 3), d.pick(images), d.pick(['t3.micro', 't3.nano', 'm5.large']),
          d.chance(0.3) ? null : d.pick([...keyNames, 'gone']), d.pick(['pending', 'running', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']),
          d.chance(0.7) ? null : d.pick(['Client.UserInitiatedShutdown', 'Server.InternalError']), null, d.pick(subnets), d.pick(vpcs),
          d.pick(['us-east-1a', 'us-east-1b']), `10.${d.int(0, 3)}.${d.int(0, 255)}.${d.int(1, 254)}`, `02:00:00:${d.hex(2)}:${d.hex(2)}:${d.hex(2)}`,
          `eni-${d.hex(17)}`, d.some([...groups, 'sg-0000000000000000f'], 3), d.chance(0.5) ? null : `${d.word()}${i}`, `b-${i}`, micro(d)],
      );
      tagged.push({ id, type: 'instance', account });
    }
    for (const id of vpcs) tagged.push({ id, type: 'vpc', account });
    for (const id of subnets) tagged.push({ id, type: 'subnet', account });
    for (const id of groups) tagged.push({ id, type: 'security-group', account });
    ids.vpc.push(...vpcs);
    ids.subnet.push(...subnets);
    ids.group.push(...groups);
    // Tags on resources that do not exist (DescribeTags lists them all the same).
    for (let i = 0; i < 3; i++) tagged.push({ id: `vpc-${d.hex(17)}`, type: 'vpc', account });
  }
  // Some images are shared with the other account (launch permissions), one way or both.
  for (const id of ids.image) {
    for (const account of ACCOUNTS) {
      if (d.chance(0.25)) await db.exec('INSERT INTO image_launch_permissions (image_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [id, account]);
    }
  }
  // Now and then an account tags another's public image: each account sees only its own tags.
  for (const id of ids.image) tagged.push({ id, type: 'image', account: d.pick(ACCOUNTS) });
  const seen = new Set<string>();
  for (const r of tagged) {
    for (const key of d.some(TAG_KEYS, 3)) {
      if (seen.has(`${r.id}/${key}`)) continue;
      seen.add(`${r.id}/${key}`);
      await ins('tags', { account_id: r.account, resource_id: r.id, resource_type: r.type, key, value: d.word(5) });
    }
  }
  await db.exec('ANALYZE');
  return { ids };
}
