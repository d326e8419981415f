/**
 * A filter that reads values out of a jsonb column with a JSON path (the kind the volume and network-interface
 * Describe* actions will declare for attachments and block device mappings): any value the path yields may
 * match, with wildcards; a row whose path yields nothing never matches.
 */
import assert from 'node:assert/strict';
import { jsonPath, type Resource } from '../../src/describe/index.js';
import { instanceResource, type InstanceRead } from '../../src/api/instances/filters.js';
import { useTestServer } from '../support/use-server.js';

describe('describe: a JSON path filter', () => {
  const account = '000000000000';
  const ids = ['i-0000000000000000a', 'i-0000000000000000b', 'i-0000000000000000c'];
  const resource: Resource<InstanceRead> = {
    ...instanceResource,
    filters: { ...instanceResource.filters, 'block-device-mapping.device-name': jsonPath('block_device_mappings', '$[*].DeviceName') },
  };

  const t = useTestServer();
  before(async () => {
    const image = (await t.s.db.one<{ id: string }>('SELECT id FROM images LIMIT 1'))!.id;
    const subnet = (await t.s.db.one<{ id: string; vpc_id: string }>('SELECT id, vpc_id FROM subnets WHERE account_id = $1 LIMIT 1', [account]))!;
    const mappings = [[{ DeviceName: '/dev/xvda' }, { DeviceName: '/dev/sdf' }], [{ DeviceName: '/dev/sdg' }], []];
    for (const [i, id] of ids.entries()) {
      await t.s.db.exec(
        `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, state, subnet_id, vpc_id,
           availability_zone, private_ip, mac_address, eni_id, block_device_mappings, backend)
         VALUES ($1, $2, 'r-0000000000000000a', $3, $4, 't3.micro', 'running', $5, $6, 'us-east-1a', $7, 'mac', 'eni-x', $8::jsonb, 'ref')`,
        [id, account, i, image, subnet.id, subnet.vpc_id, `10.9.0.${i + 4}`, JSON.stringify(mappings[i])],
      );
    }
  });

  async function matching(...values: string[]): Promise<string[]> {
    const page = await t.s.services.describe.page(resource, { filters: [{ Name: 'block-device-mapping.device-name', Values: values }] }, { accountId: account, region: 'us-east-1' });
    const out: string[] = [];
    for await (const rows of page.rows) out.push(...rows.map((r) => r.id));
    return out;
  }

  it('matches any value the path yields, exactly or with wildcards', async () => {
    assert.deepEqual(await matching('/dev/sdf'), [ids[0]]);
    assert.deepEqual(await matching('/dev/sd?'), [ids[0], ids[1]]);
    assert.deepEqual(await matching('*xvda', '/dev/sdg'), [ids[0], ids[1]]);
    assert.deepEqual(await matching('*'), [ids[0], ids[1]], 'an instance with no mapping matches nothing');
    assert.deepEqual(await matching('/dev/sd'), []);
  });
});
