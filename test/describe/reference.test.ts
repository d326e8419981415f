/**
 * The SQL describe engine against the in-memory reference (issue 12): on random records (seeded), random
 * requests (filters with wildcards, escapes, tags, ids, MaxResults) must give the same items, in the same order,
 * with the same page tokens (every page walked), or the same error. The reference is the engine and the filters
 * as they were before the move to SQL (test/support/describe-reference.ts); the SQL side is the handlers' own
 * resource declarations run by the engine the server uses.
 *
 * A failure prints its seed and request; DESCRIBE_SEEDS=1,2,3 replays given seeds.
 */
import assert from 'node:assert/strict';
import { describe as describeRows, DescribeEngine, inMemory, sql, type DescribeRequest, type DescribeSpec, type FilterInput, type Resource, type SelectOptions, type Sql } from '../../src/describe/index.js';
import { Ec2Error } from '../../src/errors/index.js';
import { instanceResource, instanceStatusResource } from '../../src/api/instances/filters.js';
import { toReservations } from '../../src/api/instances/mappers.js';
import { imageResource, ownersAndUsers, toImage } from '../../src/api/images/index.js';
import { keyPairResource } from '../../src/api/key-pairs/index.js';
import { vpcResource, toVpc } from '../../src/api/vpcs/index.js';
import { subnetResource, toSubnet } from '../../src/api/subnets/index.js';
import { securityGroupResource, toSecurityGroup } from '../../src/api/security-groups/index.js';
import { tagResource } from '../../src/api/tags/index.js';
import { dropDatabase, startTestServer, type TestServer } from '../support/server.js';
import { ACCOUNTS, Dice, prng, randomCloud, TAG_KEYS, type Cloud } from '../support/random-cloud.js';
import * as ref from '../support/describe-reference.js';

const SEEDS = (process.env.DESCRIBE_SEEDS ?? '1201,1202').split(',').map(Number);
const REQUESTS_PER_RESOURCE = 40;
const REGION = 'eu-west-2';

type Outcome = { pages: unknown[][]; tokens: (string | undefined)[] } | { error: string };

interface Case<V, R> {
  name: string;
  spec: DescribeSpec<V>;
  resource: Resource<R>;
  views: (all: Awaited<ReturnType<typeof ref.loadAll>>) => V[];
  /** What a page of each side renders to, compared whole. */
  renderRef: (items: V[]) => unknown[];
  renderSql: (rows: R[]) => unknown[];
  ids?: (c: Cloud) => string[];
  opts?: SelectOptions;
}

const cases: Case<any, any>[] = [
  {
    name: 'DescribeInstances', spec: ref.instanceSpec, resource: instanceResource, views: (a) => a.instances,
    renderRef: (items) => toReservations(items, REGION), renderSql: (rows) => toReservations(rows.map((r) => ({ ...r, region: REGION })), REGION),
    ids: (c) => c.ids.instance, opts: { groupBy: 'reservation_id' },
  },
  { name: 'DescribeImages', spec: ref.imageSpec, resource: imageResource, views: (a) => a.images, renderRef: (x) => x.map(toImage), renderSql: (x) => x.map(toImage), ids: (c) => c.ids.image },
  {
    name: 'DescribeKeyPairs', spec: ref.keyPairSpec, resource: keyPairResource, views: (a) => a.keyPairs,
    renderRef: (x) => x.map(({ id, name, fingerprint, key_type, tags }) => ({ id, name, fingerprint, key_type, tags })),
    renderSql: (x) => x.map(({ id, name, fingerprint, key_type, tags }) => ({ id, name, fingerprint, key_type, tags })),
    ids: (c) => c.ids.keyName,
  },
  { name: 'DescribeVpcs', spec: ref.vpcSpec, resource: vpcResource, views: (a) => a.vpcs, renderRef: (x) => x.map(toVpc), renderSql: (x) => x.map(toVpc), ids: (c) => c.ids.vpc },
  {
    name: 'DescribeSubnets', spec: ref.subnetSpec, resource: subnetResource, views: (a) => a.subnets, renderRef: (x) => x.map(toSubnet),
    renderSql: (x) => x.map((s: any) => toSubnet({ ...s, zoneId: { 'eu-west-2a': 'euw2-az1', 'eu-west-2b': 'euw2-az2', 'eu-west-2c': 'euw2-az3' }[s.availability_zone as string] ?? '', region: REGION })),
    ids: (c) => c.ids.subnet,
  },
  {
    name: 'DescribeSecurityGroups', spec: ref.securityGroupSpec, resource: securityGroupResource, views: (a) => a.groups,
    renderRef: (x) => x.map((g) => toSecurityGroup(g, REGION)), renderSql: (x) => x.map((g) => toSecurityGroup(g, REGION)), ids: (c) => c.ids.group,
  },
  {
    name: 'DescribeTags', spec: ref.tagSpec, resource: tagResource, views: (a) => a.tags,
    renderRef: (x) => x.map(({ resource_id, resource_type, key, value }) => ({ resource_id, resource_type, key, value })),
    renderSql: (x) => x.map(({ resource_id, resource_type, key, value }) => ({ resource_id, resource_type, key, value })),
  },
];

/** A value a filter could be given: one the rows have, or not, turned into a pattern now and then. */
function filterValue(d: Dice, samples: string[]): string {
  let v = samples.length && d.chance(0.8) ? d.pick(samples) : d.word(4);
  const escape = (s: string) => s.replace(/[*?\\]/g, (c) => '\\' + c);
  switch (d.int(0, 6)) {
    case 0:
      return escape(v);
    case 1:
      return `${escape(v.slice(0, d.int(0, v.length)))}*`;
    case 2:
      return `*${escape(v.slice(d.int(0, v.length)))}`;
    case 3: {
      const i = d.int(0, Math.max(0, v.length - 1));
      return v.length ? escape(v.slice(0, i)) + '?' + escape(v.slice(i + 1)) : '?';
    }
    case 4:
      return `*${escape(v.slice(1, 3))}*`;
    case 5:
      v = v + d.pick(['\\', '%', '_', '\\*']);
      return v;
    default:
      return v;
  }
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined && x !== null).map(String);

function randomRequest<V>(d: Dice, c: Case<V, unknown>, views: V[], cloud: Cloud): DescribeRequest {
  const names = [...Object.keys(c.spec.filters), 'tag-key', 'tag-value', ...TAG_KEYS.map((k) => `tag:${k}`)];
  const filters: FilterInput[] = [];
  for (let i = 0, n = d.pick([0, 0, 1, 1, 1, 2, 3]); i < n; i++) {
    const name = d.chance(0.02) ? 'no-such-filter' : d.pick(names);
    const samples: string[] = [];
    for (const v of d.some(views, 3)) {
      if (name.startsWith('tag')) {
        const tags = c.spec.tags!(v);
        samples.push(...(name === 'tag-key' ? tags.map((t) => t.key) : name === 'tag-value' ? tags.map((t) => t.value) : tags.filter((t) => `tag:${t.key}` === name).map((t) => t.value)));
      } else if (c.spec.filters[name]) samples.push(...strings(c.spec.filters[name]!(v)));
    }
    filters.push({ Name: name, Values: Array.from({ length: d.chance(0.05) ? 0 : d.int(1, 3) }, () => filterValue(d, samples)) });
  }
  const req: DescribeRequest = { filters };
  if (c.ids && d.chance(0.3)) req.ids = [...d.some(c.ids(cloud), 3), ...(d.chance(0.2) ? ['i-0000000000000000f'] : [])];
  if (c.spec.maxResults && d.chance(0.6)) req.maxResults = d.int(c.spec.maxResults.min, c.spec.maxResults.min + 6);
  return req;
}

/** The outline of an outcome (error, or items per page and tokens), compared first for a readable failure. */
const shape = (o: Outcome) => ('error' in o ? o : { items: o.pages.map((p) => p.length), tokens: o.tokens });

function errorOf(e: unknown): { error: string } {
  if (e instanceof Ec2Error) return { error: `${e.code}: ${e.message}` };
  throw e;
}

/** Every page of the answer, in memory over the reference views. */
function runRef<V>(c: Case<V, unknown>, views: V[], req: DescribeRequest): Outcome {
  const pages: unknown[][] = [];
  const tokens: (string | undefined)[] = [];
  let token: string | undefined;
  try {
    do {
      const p = describeRows(c.spec, views, { ...req, nextToken: token });
      pages.push(c.renderRef(p.items));
      tokens.push((token = p.nextToken));
    } while (token && pages.length < 40);
  } catch (e) {
    return errorOf(e);
  }
  return { pages, tokens };
}

async function runSql<R>(engine: DescribeEngine, c: Case<unknown, R>, req: DescribeRequest, ctx: { accountId: string; region: string }, where?: Sql, checkIds?: boolean): Promise<Outcome> {
  const pages: unknown[][] = [];
  const tokens: (string | undefined)[] = [];
  let token: string | undefined;
  try {
    do {
      const p = await engine.page(c.resource, { ...req, nextToken: token }, ctx, { ...c.opts, where, checkIds });
      // Each batch is rendered on its own, as the handlers render them while they stream.
      const rendered: unknown[] = [];
      for await (const b of p.rows) rendered.push(...c.renderSql(b));
      pages.push(rendered);
      tokens.push((token = p.nextToken));
    } while (token && pages.length < 40);
  } catch (e) {
    return errorOf(e);
  }
  return { pages, tokens };
}

describe('the SQL describe engine against the in-memory reference, on random data', function () {
  this.timeout(600_000);

  for (const seed of SEEDS) {
    describe(`seed ${seed}`, () => {
      let s: TestServer;
      /** The server's engine, and one reading 4 rows per batch and 3 per memory-filter chunk, to show their seams. */
      let engines: DescribeEngine[];
      let cloud: Cloud;
      let all: Record<string, Awaited<ReturnType<typeof ref.loadAll>>>;
      before(async () => {
        s = await startTestServer({ AWS_REGION: REGION });
        cloud = await randomCloud(s.db, seed);
        engines = [s.services.describe, new DescribeEngine(s.db, { batch: 4, memoryChunk: 3 })];
        all = {};
        for (const a of ACCOUNTS) all[a] = await ref.loadAll(s.services, a, REGION);
      });
      after(async () => {
        all = {};
        engines = [];
        await s?.close();
        if (s) await dropDatabase(s.databaseUrl);
      });

      for (const [ci, c] of cases.entries()) {
        it(`${c.name}: same items, order and tokens for ${REQUESTS_PER_RESOURCE} random requests`, async () => {
          const d = new Dice(prng(seed * 100 + ci));
          let answered = 0;
          let paged = 0;
          for (let n = 0; n < REQUESTS_PER_RESOURCE; n++) {
            const account = d.pick(ACCOUNTS);
            const views = c.views(all[account]!);
            const req = randomRequest(d, c, views, cloud);
            const expected = runRef(c, views, req);
            const got = await runSql(engines[n % 2]!, c, req, { accountId: account, region: REGION });
            assert.deepEqual(shape(got), shape(expected), `seed ${seed}, ${c.name} as ${account}: ${JSON.stringify(req)}`);
            assert.deepEqual(got, expected, `seed ${seed}, ${c.name} as ${account}: ${JSON.stringify(req)}`);
            if ('pages' in expected && expected.pages.flat().length) answered++;
            if ('pages' in expected && expected.pages.length > 1) paged++;
          }
          if (c.spec.maxResults) assert.ok(paged >= 2, `only ${paged} answers took more than one page: paging is hardly tested`);
          assert.ok(answered >= REQUESTS_PER_RESOURCE / 5, `only ${answered} requests found anything: the random requests are too narrow to test much`);
        });
      }

      it('a filter declared in memory (the named exception) gives the same answers, read a chunk at a time', async () => {
        const d = new Dice(prng(seed * 100 + 52));
        const base = cases[0]!;
        const c: Case<any, any> = {
          ...base,
          resource: {
            ...instanceResource,
            filters: { ...instanceResource.filters, 'instance-state-name': inMemory('test: as if it could not be SQL', (i: { state: string }) => i.state) },
          },
        };
        for (let n = 0; n < 30; n++) {
          const account = d.pick(ACCOUNTS);
          const views = all[account]!.instances;
          const req = randomRequest(d, c, views, cloud);
          req.filters = [...(req.filters ?? []), { Name: 'instance-state-name', Values: [d.pick(['running', 'stop*', '*ing', 'terminated'])] }];
          assert.deepEqual(await runSql(engines[n % 2]!, c, req, { accountId: account, region: REGION }), runRef(c, views, req), `seed ${seed}: ${JSON.stringify(req)}`);
        }
      });

      it('DescribeImages with Owners and ExecutableUsers: the images the image service lists for them, then the reference', async () => {
        const d = new Dice(prng(seed * 100 + 50));
        for (let n = 0; n < 30; n++) {
          const account = d.pick(ACCOUNTS);
          const input = {
            Owners: d.chance(0.6) ? d.some(['self', 'amazon', 'thecloud', ...ACCOUNTS, '999999999999'], 2) : undefined,
            ExecutableUsers: d.chance(0.4) ? d.some(['self', 'all', ...ACCOUNTS], 2) : undefined,
          };
          const listed = new Set((await s.services.images.list(account, { owners: input.Owners, executableUsers: input.ExecutableUsers })).map((i) => i.id));
          const rows = all[account]!.images.filter((i) => listed.has(i.id));
          const req: DescribeRequest = { ids: d.chance(0.3) ? d.some(cloud.ids.image, 2) : undefined, maxResults: d.chance(0.5) ? 5 : undefined };
          const c = cases[1]!;
          const got = await runSql(engines[n % 2]!, c, req, { accountId: account, region: REGION }, ownersAndUsers(input, account));
          assert.deepEqual(got, runRef(c, rows, req), `seed ${seed} as ${account}: ${JSON.stringify({ ...input, ...req })}`);
        }
      });

      it('DescribeInstanceStatus: running instances (or all), by id without NotFound for those not running', async () => {
        const d = new Dice(prng(seed * 100 + 51));
        const status = (rows: { id: string; state: string; availability_zone: string }[]) => rows.map((i) => [i.id, i.state, i.availability_zone]);
        const c: Case<any, any> = { ...cases[0]!, spec: ref.instanceStatusSpec, resource: instanceStatusResource, opts: {}, renderRef: status, renderSql: status };
        for (let n = 0; n < 30; n++) {
          const account = d.pick(ACCOUNTS);
          const includeAll = d.chance(0.5);
          const req = randomRequest(d, c, all[account]!.instances, cloud);
          const ids = req.ids;
          let views = all[account]!.instances.filter((v) => includeAll || v.state === 'running');
          if (ids?.length) views = views.filter((v) => ids.includes(v.id));
          const got = await runSql(engines[n % 2]!, c, req, { accountId: account, region: REGION }, includeAll ? undefined : sql`r.state = 'running'`, false);
          assert.deepEqual(got, runRef(c, views, { ...req, ids: undefined }), `seed ${seed} as ${account}: ${JSON.stringify(req)}`);
        }
      });
    });
  }
});
