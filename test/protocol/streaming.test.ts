import assert from 'node:assert/strict';
import { DescribeTagsCommand, paginateDescribeTags } from '@aws-sdk/client-ec2';
import { serializeResult, serializeResultStream, streamed } from '../../src/protocol/serializer.js';
import { useTestServer } from '../support/use-server.js';
import { raw } from '../support/clients.js';

async function* batches<T>(...bs: T[][]): AsyncGenerator<T[]> {
  for (const b of bs) yield b;
}

async function text(chunks: AsyncGenerator<string>): Promise<{ text: string; chunks: number }> {
  let t = '';
  let n = 0;
  for await (const c of chunks) {
    t += c;
    n++;
  }
  return { text: t, chunks: n };
}

describe('protocol: streamed answers', () => {
  it('writes a streamed list exactly as the same list given whole, in several chunks when it is large', async () => {
    const tags = Array.from({ length: 3000 }, (_, i) => ({ ResourceId: `vpc-${i}`, ResourceType: 'vpc', Key: `k<${i}>`, Value: 'v&'.repeat(i % 7) }));
    const whole = serializeResult('DescribeTags', 'DescribeTagsResult', { Tags: tags, NextToken: 'tok' }, 'r-1');
    const streamedOut = await text(
      serializeResultStream('DescribeTags', 'DescribeTagsResult', { Tags: streamed(batches(tags.slice(0, 1000), [], tags.slice(1000)), (b) => b), NextToken: 'tok' }, 'r-1'),
    );
    assert.equal(streamedOut.text, whole);
    assert.ok(streamedOut.chunks > 2, `a ${whole.length}-character answer came in ${streamedOut.chunks} chunks`);
  });

  it('writes an empty streamed list as an empty element', async () => {
    const whole = serializeResult('DescribeTags', 'DescribeTagsResult', { Tags: [] }, 'r');
    const out = await text(serializeResultStream('DescribeTags', 'DescribeTagsResult', { Tags: streamed(batches<never>([], []), (b) => b) }, 'r'));
    assert.equal(out.text, whole);
    assert.match(whole, /<tagSet\/>/);
  });

  describe('over HTTP', () => {
    const N = 12_000;
    const t = useTestServer();
    before(async () => {
      const account = (await t.s.db.one<{ account_id: string }>("SELECT account_id FROM accounts WHERE access_key_id = 'test'"))!.account_id;
      await t.s.db.exec(
        `INSERT INTO tags (account_id, resource_id, resource_type, key, value)
         SELECT $1, 'vpc-0be4c' || lpad(to_hex(g / 50), 12, '0'), 'vpc', 'k' || lpad((g % 50)::text, 2, '0'), 'value ' || g
         FROM generate_series(0, $2::int - 1) AS g`,
        [account, N],
      );
    });

    it('sends a large answer as it is written (chunked), whole and in order; a small one with its length', async () => {
      const big = await raw(t.url, { Action: 'DescribeTags' });
      assert.equal(big.status, 200);
      assert.equal(big.headers.get('content-length'), null, 'a streamed answer has no length');
      assert.equal(big.headers.get('transfer-encoding'), 'chunked');
      const items = big.xml.DescribeTagsResponse.tagSet.item as { resourceId: string; key: string }[];
      assert.equal(items.length, N);
      const paged: string[] = [];
      for await (const page of paginateDescribeTags({ client: t.ec2, pageSize: 1000 }, {})) paged.push(...page.Tags!.map((t) => `${t.ResourceId}/${t.Key}`));
      assert.deepEqual(items.map((t) => `${t.resourceId}/${t.key}`), paged, 'the streamed answer lists what the pages list, in the same order');

      const small = await raw(t.url, { Action: 'DescribeTags', 'Filter.1.Name': 'key', 'Filter.1.Value.1': 'k07', MaxResults: '5' });
      assert.equal(small.status, 200);
      assert.equal(Number(small.headers.get('content-length')), Buffer.byteLength(small.body));
      const viaSdk = await t.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: ['value 1?'] }] }));
      assert.deepEqual(viaSdk.Tags!.map((t) => t.Value).sort(), Array.from({ length: 10 }, (_, i) => `value 1${i}`));
    });
  });
});
