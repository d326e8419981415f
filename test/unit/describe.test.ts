import assert from 'node:assert/strict';
import { describe as describeRows, wildcard, type DescribeSpec } from '../../src/describe/index.js';
import { Ec2Error } from '../../src/errors/index.js';
import { newId, parseId, isId } from '../../src/ids/index.js';

type Row = { id: string; name: string; tags: { key: string; value: string }[] };
const spec: DescribeSpec<Row> = {
  id: (r) => r.id,
  tags: (r) => r.tags,
  filters: { name: (r) => r.name },
  notFound: (ids) => new Ec2Error('InvalidThing.NotFound', ids.join(',')),
  maxResults: { min: 5, max: 1000 },
};
const rows: Row[] = ['web-1', 'web-2', 'db-1', 'web?x', 'a*b'].map((name, i) => ({ id: `t-${i}`, name, tags: [{ key: 'Env', value: i % 2 ? 'prod' : 'dev' }] }));

describe('the describe engine', () => {
  it('matches * and ? wildcards, and \\ escapes them', () => {
    assert.ok(wildcard('web-*').test('web-12'));
    assert.ok(wildcard('web-?').test('web-1'));
    assert.ok(!wildcard('web-?').test('web-12'));
    assert.ok(wildcard('web\\?x').test('web?x'));
    assert.ok(!wildcard('web\\?x').test('webax'));
    assert.ok(wildcard('a\\*b').test('a*b') && !wildcard('a\\*b').test('axxb'));
    assert.ok(!wildcard('web').test('web-1'), 'anchored');
  });

  it('ANDs filters, ORs the values of one filter, and reads tags', () => {
    const r = describeRows(spec, rows, { filters: [{ Name: 'name', Values: ['web-*', 'db-*'] }, { Name: 'tag:Env', Values: ['dev'] }] });
    assert.deepEqual(r.items.map((x) => x.name), ['web-1', 'db-1']);
    assert.equal(describeRows(spec, rows, { filters: [{ Name: 'tag-key', Values: ['Env'] }] }).items.length, 5);
    assert.equal(describeRows(spec, rows, { filters: [{ Name: 'tag-value', Values: ['prod'] }] }).items.length, 2);
  });

  it('names every missing id in NotFound and refuses unknown filters', () => {
    assert.throws(() => describeRows(spec, rows, { ids: ['t-1', 't-8', 't-9'] }), /t-8,t-9/);
    assert.throws(() => describeRows(spec, rows, { filters: [{ Name: 'colour', Values: ['x'] }] }), (e: Ec2Error) => e.code === 'InvalidParameterValue');
  });

  it('pages by position with AWS bounds on MaxResults', () => {
    assert.throws(() => describeRows(spec, rows, { maxResults: 4 }), (e: Ec2Error) => e.code === 'InvalidParameterValue');
    const p1 = describeRows(spec, rows, { maxResults: 5 });
    assert.equal(p1.nextToken, undefined, 'no token when the listing is complete');
    const many = Array.from({ length: 12 }, (_, i) => ({ id: `t-${String(i).padStart(2, '0')}`, name: 'n', tags: [] }));
    const a = describeRows(spec, many, { maxResults: 5 });
    const b = describeRows(spec, many, { maxResults: 5, nextToken: a.nextToken });
    const c = describeRows(spec, many, { maxResults: 5, nextToken: b.nextToken });
    assert.deepEqual([...a.items, ...b.items, ...c.items].map((x) => x.id), many.map((x) => x.id));
    assert.equal(c.nextToken, undefined);
  });

  it('makes ids of a prefix and 17 hex digits, and checks their shape', () => {
    const id = newId('instance');
    assert.match(id, /^i-[0-9a-f]{17}$/);
    assert.ok(isId('instance', id) && isId('instance', 'i-0123abcd'));
    assert.throws(() => parseId('instance', 'i-XYZ'), (e: Ec2Error) => e.code === 'InvalidInstanceID.Malformed');
    assert.throws(() => parseId('vpc', 'subnet-0123456789abcdef0'), (e: Ec2Error) => e.code === 'InvalidVpcID.Malformed');
  });
});
