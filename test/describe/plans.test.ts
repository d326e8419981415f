/**
 * The describe engine's main queries use the indexes of migration 006 rather than reading the table (issue 12).
 * Only plans that do not depend on fine cost estimates are asserted: with a few thousand analysed rows, a page of
 * 50 in id order, the same page after a token, a page of one state and a lookup by id each read an index; none
 * reads all of `instances` or `tags`.
 */
import assert from 'node:assert/strict';
import { DescribeEngine, type DescribeRequest, type SqlReader } from '../../src/describe/index.js';
import { instanceResource } from '../../src/api/instances/filters.js';
import { tagResource } from '../../src/api/tags/index.js';
import { useTestServer } from '../support/use-server.js';

class Recorder implements SqlReader {
  readonly queries: { text: string; bind: unknown[] }[] = [];
  async rows<T extends object>(text: string, bind: unknown[] = []): Promise<T[]> {
    this.queries.push({ text, bind });
    return [];
  }
}

describe('describe: the main queries read indexes', () => {
  const account = '000000000000';
  const t = useTestServer();
  before(async () => {
    const image = (await t.s.db.one<{ id: string }>(`SELECT id FROM images LIMIT 1`))!.id;
    const subnet = (await t.s.db.one<{ id: string; vpc_id: string }>('SELECT id, vpc_id FROM subnets WHERE account_id = $1 LIMIT 1', [account]))!;
    await t.s.db.exec(
      `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, state, subnet_id, vpc_id,
         availability_zone, private_ip, mac_address, eni_id, backend)
       SELECT 'i-' || substr(md5('p' || g), 1, 17), $1, 'r-' || substr(md5('r' || g / 4), 1, 17), g % 4, $2, 't3.micro',
              CASE WHEN g % 10 = 0 THEN 'stopped' ELSE 'running' END, $3, $4, 'us-east-1a', ('10.1.' || g / 256 || '.' || g % 256)::inet,
              'mac', 'eni-x', 'ref'
       FROM generate_series(1, 4000) AS g`,
      [account, image, subnet.id, subnet.vpc_id],
    );
    await t.s.db.exec(
      `INSERT INTO tags (account_id, resource_id, resource_type, key, value)
       SELECT $1, 'i-' || substr(md5('p' || g), 1, 17), 'instance', 'Name', 'web-' || g FROM generate_series(1, 4000) AS g`,
      [account],
    );
    await t.s.db.exec('ANALYZE');
  });

  async function plans(resource: typeof instanceResource | typeof tagResource, req: DescribeRequest): Promise<string> {
    const rec = new Recorder();
    const page = await new DescribeEngine(rec).page(resource as typeof instanceResource, req, { accountId: account, region: 'us-east-1' }, { checkIds: false });
    for await (const _ of page.rows) break;
    const out: string[] = [];
    for (const q of rec.queries) {
      const plan = await t.s.db.rows<Record<string, string>>(`EXPLAIN ${q.text}`, q.bind);
      out.push(plan.map((r) => Object.values(r)[0]).join('\n'));
    }
    return out.join('\n');
  }

  it('a page of instances walks (account_id, id), also after a token; one state walks (account_id, state, id)', async () => {
    const first = await plans(instanceResource, { maxResults: 50 });
    assert.match(first, /Index (Only )?Scan using instances_account_id on instances/);
    const token = Buffer.from(JSON.stringify({ after: 'i-8' }), 'utf8').toString('base64url');
    assert.match(await plans(instanceResource, { maxResults: 50, nextToken: token }), /Index (Only )?Scan using instances_account_id on instances/);
    const stopped = await plans(instanceResource, { maxResults: 50, filters: [{ Name: 'instance-state-name', Values: ['stopped'] }] });
    assert.match(stopped, /Index (Only )?Scan using instances_account_state on instances/);
    for (const p of [first, stopped]) assert.doesNotMatch(p, /Seq Scan on (instances|tags)\b/);
  });

  it('by id, by tag and DescribeTags pages read indexes, never the whole tags or instances table', async () => {
    const byId = await plans(instanceResource, { ids: ['i-0123456789abcdef0'] });
    assert.match(byId, /Index (Only )?Scan using (instances_pkey|instances_account_id) on instances/);
    const byTag = await plans(instanceResource, { maxResults: 50, filters: [{ Name: 'tag:Name', Values: ['web-42'] }] });
    const tagsPage = await plans(tagResource, { maxResults: 50 });
    assert.match(tagsPage, /Index (Only )?Scan using tags_account_resource on tags/);
    for (const p of [byId, byTag, tagsPage]) assert.doesNotMatch(p, /Seq Scan on (instances|tags)\b/);
  });
});
