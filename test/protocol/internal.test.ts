import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/server/app.js';
import { Registry, defineHandler } from '../../src/server/registry.js';
import type { Services } from '../../src/services/index.js';
import { createLogger } from '../../src/server/log.js';

describe('protocol: internal failures', () => {
  it('answers InternalError (500) without a stack trace, and logs it with the request id', async () => {
    const logged: Record<string, unknown>[] = [];
    const boom = defineHandler('DescribeRegions', {
      async handle() {
        throw new Error('database exploded at /secret/path.ts:42');
      },
    });
    const app = createApp({
      registry: new Registry().add(boom),
      services: {} as Services,
      region: 'us-east-1',
      authEnabled: false,
      defaultAccountId: '000000000000',
      lookupCredentials: async () => undefined,
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: (msg, extra) => logged.push({ msg, ...extra }) },
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'Action=DescribeRegions&Version=2016-11-15',
      });
      const body = await res.text();
      assert.equal(res.status, 500);
      assert.match(body, /<Code>InternalError<\/Code>/);
      assert.ok(!body.includes('exploded') && !body.includes('secret'), 'nothing of the failure leaks');
      const id = res.headers.get('x-amzn-requestid');
      assert.ok(body.includes(`<RequestID>${id}</RequestID>`));
      assert.equal(logged[0]!.requestId, id);
      assert.match(String(logged[0]!.error), /database exploded/);
    } finally {
      server.close();
    }
  });

  it('logs a failure without a message by its type and stack, and one without a value as such: never "undefined"', async () => {
    const logged: Record<string, unknown>[] = [];
    const throwers: Record<string, () => never> = {
      DescribeRegions: () => {
        throw new TypeError();
      },
      DescribeAvailabilityZones: () => {
        // eslint-disable-next-line no-throw-literal
        throw undefined;
      },
    };
    const app = createApp({
      registry: new Registry().add(
        defineHandler('DescribeRegions', { handle: async () => throwers.DescribeRegions!() }),
        defineHandler('DescribeAvailabilityZones', { handle: async () => throwers.DescribeAvailabilityZones!() }),
      ),
      services: {} as Services,
      region: 'us-east-1',
      authEnabled: false,
      defaultAccountId: '000000000000',
      lookupCredentials: async () => undefined,
      log: createLogger('debug', (line) => logged.push(JSON.parse(line) as Record<string, unknown>)),
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      for (const action of Object.keys(throwers)) {
        const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `Action=${action}&Version=2016-11-15`,
        });
        assert.equal(res.status, 500);
      }
      const errors = logged.filter((l) => l.level === 'error').map((l) => String(l.error));
      assert.equal(errors.length, 2);
      assert.match(errors[0]!, /^TypeError \(without a message\)\n\s+at /);
      assert.match(errors[1]!, /a failure without a reason/);
      for (const l of logged) assert.doesNotMatch(JSON.stringify(l), /\bundefined\b/);
    } finally {
      server.close();
    }
  });
});
