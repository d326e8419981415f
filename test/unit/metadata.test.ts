import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataServer } from '../../src/services/metadata/server.js';
import { TokenIssuer, parseTokenTtl } from '../../src/services/metadata/tokens.js';
import { metadataOptionsOf, parseMetadataOptions } from '../../src/services/metadata/options.js';
import { IdentitySigner } from '../../src/services/metadata/identity.js';
import { buildTree, lookup, type InstanceMetadata } from '../../src/services/metadata/tree.js';
import { Ec2Error } from '../../src/errors/index.js';
import { ask, sampleInstance } from '../support/metadata.js';

describe('instance metadata service (unit)', () => {
  describe('options', () => {
    it('defaults as AWS, checks values, and leaves what is not given', () => {
      assert.deepEqual(metadataOptionsOf(null), { httpTokens: 'optional', httpPutResponseHopLimit: 1, httpEndpoint: 'enabled', httpProtocolIpv6: 'disabled', instanceMetadataTags: 'disabled' });
      assert.deepEqual(parseMetadataOptions({ HttpTokens: 'required', HttpPutResponseHopLimit: -1 }), { httpTokens: 'required' });
      assert.deepEqual(parseMetadataOptions({ HttpPutResponseHopLimit: 64, InstanceMetadataTags: 'enabled' }), { httpPutResponseHopLimit: 64, instanceMetadataTags: 'enabled' });
      for (const bad of [{ HttpTokens: 'yes' }, { HttpPutResponseHopLimit: 0 }, { HttpPutResponseHopLimit: 65 }, { HttpEndpoint: 'on' }]) {
        assert.throws(() => parseMetadataOptions(bad), (e: unknown) => e instanceof Ec2Error && e.code === 'InvalidParameterValue', JSON.stringify(bad));
      }
    });
  });

  describe('tokens', () => {
    it('takes a TTL of 1..21600 only', () => {
      assert.equal(parseTokenTtl('1'), 1);
      assert.equal(parseTokenTtl('21600'), 21600);
      for (const bad of ['0', '21601', '99999', '-5', '1.5', 'abc', '', undefined]) assert.equal(parseTokenTtl(bad), undefined, String(bad));
    });
    it('is valid for its instance until it expires, and for no other', () => {
      let now = 1_000_000_000_000;
      const t = new TokenIssuer(undefined, () => now);
      const tok = t.issue('i-1', 10);
      assert.ok(t.valid(tok, 'i-1'));
      assert.equal(t.valid(tok, 'i-2'), false, 'another instance');
      assert.equal(t.valid(tok.slice(0, -2) + 'xx', 'i-1'), false, 'tampered');
      assert.equal(new TokenIssuer().valid(tok, 'i-1'), false, 'another key');
      now += 10_001;
      assert.equal(t.valid(tok, 'i-1'), false, 'expired');
    });
    it('keeps its key in the data directory, so a restarted server accepts the tokens it gave out', () => {
      const dir = mkdtempSync(join(tmpdir(), 'thecloud-tokens-'));
      try {
        const tok = TokenIssuer.fromDir(dir).issue('i-1', 60);
        assert.ok(TokenIssuer.fromDir(dir).valid(tok, 'i-1'), 'a second issuer from the same directory (a restart)');
        assert.equal(statSync(join(dir, 'token-key')).mode & 0o777, 0o600);
        assert.equal(TokenIssuer.fromDir(mkdtempSync(join(dir, 'other-'))).valid(tok, 'i-1'), false, 'another installation');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('tree', () => {
    const m = sampleInstance();
    const get = (tree: ReturnType<typeof buildTree>, p: string) => {
      const r = lookup(tree, p);
      return r.status === 200 ? r.body.toString() : 404;
    };
    it('lists directories as AWS (trailing slash for directories) and answers leaves', () => {
      const tree = buildTree(m);
      assert.equal(get(tree, ''), 'meta-data/\nuser-data\ndynamic/');
      const listing = (get(tree, 'meta-data/') as string).split('\n');
      for (const e of ['ami-id', 'instance-id', 'instance-type', 'hostname', 'local-hostname', 'local-ipv4', 'mac', 'network/', 'placement/', 'security-groups', 'public-keys/', 'block-device-mapping/']) assert.ok(listing.includes(e), e);
      assert.ok(!listing.includes('public-ipv4') && !listing.includes('tags/'), 'no public address, tags not enabled');
      assert.equal(get(tree, 'meta-data/instance-id'), m.instanceId);
      assert.equal(get(tree, 'meta-data/hostname'), 'ip-10-0-1-5.ec2.internal');
      assert.equal(get(tree, 'meta-data/placement/availability-zone'), 'us-east-1a');
      assert.equal(get(tree, 'meta-data/placement/region'), 'us-east-1');
      assert.equal(get(tree, 'meta-data/public-keys/'), '0=mine');
      assert.equal(get(tree, 'meta-data/public-keys/0/'), 'openssh-key');
      assert.equal(get(tree, 'meta-data/public-keys/0/openssh-key'), 'ssh-ed25519 AAAAC3Nza mine\n');
      assert.equal(get(tree, 'meta-data/block-device-mapping/'), 'ami\nroot');
      const mac = `meta-data/network/interfaces/macs/${m.mac}/`;
      assert.equal(get(tree, 'meta-data/network/interfaces/macs/'), `${m.mac}/`);
      assert.equal(get(tree, `${mac}subnet-id`), m.subnetId);
      assert.equal(get(tree, `${mac}vpc-id`), m.vpcId);
      assert.equal(get(tree, `${mac}subnet-ipv4-cidr-block`), '10.0.1.0/24');
      assert.equal(get(tree, `${mac}security-group-ids`), 'sg-0123456789abcdef0');
      assert.equal(get(tree, `${mac}device-number`), '0');
      assert.equal(get(tree, `${mac}local-ipv4s`), '10.0.1.5');
      assert.equal(get(tree, 'user-data'), '#!/bin/sh\necho hi\n');
      assert.equal(get(tree, 'meta-data'), get(tree, 'meta-data/'), 'a directory without its slash lists too');
    });
    it('lists every attached interface under network/interfaces/macs/, each with its own fields, in device order', () => {
      const m = sampleInstance({ publicIp: '198.51.100.7', secondaryIps: ['10.0.1.6'] });
      const second = { mac: '02:11:22:33:44:55', eniId: 'eni-0123456789abcdef1', deviceIndex: 1, ips: ['10.0.2.9'], subnetId: 'subnet-0123456789abcdef1', subnetCidr: '10.0.2.0/24', vpcId: m.vpcId, vpcCidrs: m.vpcCidrs, securityGroups: [{ id: 'sg-0123456789abcdef1', name: 'db' }, { id: 'sg-0123456789abcdef2', name: 'ops' }] };
      const primary = { mac: m.mac, eniId: m.eniId, deviceIndex: 0, ips: ['10.0.1.5', '10.0.1.6'], publicIp: m.publicIp, subnetId: m.subnetId, subnetCidr: m.subnetCidr, vpcId: m.vpcId, vpcCidrs: m.vpcCidrs, securityGroups: m.securityGroups };
      const tree = buildTree({ ...m, interfaces: [second, primary] });
      assert.equal(get(tree, 'meta-data/network/interfaces/macs/'), `${m.mac}/\n${second.mac}/`);
      const at = (mac: string, leaf: string) => get(tree, `meta-data/network/interfaces/macs/${mac}/${leaf}`);
      assert.equal(at(second.mac, 'device-number'), '1');
      assert.equal(at(second.mac, 'interface-id'), second.eniId);
      assert.equal(at(second.mac, 'mac'), second.mac);
      assert.equal(at(second.mac, 'local-ipv4s'), '10.0.2.9');
      assert.equal(at(second.mac, 'local-hostname'), 'ip-10-0-2-9.ec2.internal');
      assert.equal(at(second.mac, 'subnet-id'), second.subnetId);
      assert.equal(at(second.mac, 'subnet-ipv4-cidr-block'), '10.0.2.0/24');
      assert.equal(at(second.mac, 'vpc-id'), m.vpcId);
      assert.equal(at(second.mac, 'security-group-ids'), 'sg-0123456789abcdef1\nsg-0123456789abcdef2');
      assert.equal(at(second.mac, 'security-groups'), 'db\nops');
      assert.equal(at(second.mac, 'owner-id'), m.accountId);
      assert.equal(at(second.mac, 'public-ipv4s'), 404, 'no public address on the second interface');
      assert.equal(at(m.mac, 'device-number'), '0');
      assert.equal(at(m.mac, 'local-ipv4s'), '10.0.1.5\n10.0.1.6');
      assert.equal(at(m.mac, 'public-ipv4s'), '198.51.100.7');
      assert.equal(get(tree, 'meta-data/mac'), m.mac, 'the instance\'s own mac stays the primary one');
    });
    it('finds nothing for unknown paths, dot segments, a leaf with a slash, absent values', () => {
      const tree = buildTree(sampleInstance({ userData: undefined, publicKey: undefined }));
      for (const p of ['meta-data/nope', 'meta-data/../user-data', 'meta-data/./instance-id', 'meta-data/instance-id/', 'user-data', 'meta-data/public-keys/', 'meta-data/public-ipv4', 'meta-data/tags/instance/', 'meta-data/toString', 'meta-data/__proto__']) {
        assert.equal(get(tree, p), 404, p);
      }
    });
    it('shows a public address and tags when there are (tags only when enabled)', () => {
      const tree = buildTree(sampleInstance({ publicIp: '198.51.100.7', options: { ...metadataOptionsOf(null), instanceMetadataTags: 'enabled' } }));
      assert.equal(get(tree, 'meta-data/public-ipv4'), '198.51.100.7');
      assert.equal(get(tree, 'meta-data/tags/instance/'), 'Name');
      assert.equal(get(tree, 'meta-data/tags/instance/Name'), 'box');
    });
    it('signs the identity document with the installation key, checkable with the published public key', () => {
      const dir = mkdtempSync(join(tmpdir(), 'thecloud-imds-'));
      try {
        const signer = IdentitySigner.fromDir(dir);
        assert.equal(statSync(join(dir, 'identity-key.pem')).mode & 0o777, 0o600);
        const again = IdentitySigner.fromDir(dir);
        assert.equal(again.publicKeyPem(), signer.publicKeyPem(), 'the same key after a restart');
        const tree = buildTree(m, signer);
        const doc = get(tree, 'dynamic/instance-identity/document') as string;
        const sig = get(tree, 'dynamic/instance-identity/signature') as string;
        assert.deepEqual(
          (({ instanceId, accountId, region, availabilityZone, imageId, instanceType, privateIp, pendingTime }) => ({ instanceId, accountId, region, availabilityZone, imageId, instanceType, privateIp, pendingTime }))(JSON.parse(doc)),
          { instanceId: m.instanceId, accountId: m.accountId, region: 'us-east-1', availabilityZone: 'us-east-1a', imageId: m.imageId, instanceType: 't3.micro', privateIp: '10.0.1.5', pendingTime: '2026-11-26T10:00:00Z' },
        );
        const pub = readFileSync(join(dir, 'identity-public-key.pem'), 'utf8');
        assert.ok(IdentitySigner.verify(pub, doc, sig));
        assert.equal(IdentitySigner.verify(pub, doc.replace(m.instanceId, 'i-0000000000000000f'), sig), false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('HTTP', () => {
    // A TCP listener on loopback standing in for a VPC router's: each connection is handed over as the network
    // backend hands them, tagged with the VPC.
    let front: Server;
    let port = 0;
    let current: InstanceMetadata = sampleInstance();
    const seen: string[] = [];
    const imds = new MetadataServer({
      byAddress: async (vpcId, ip) => {
        seen.push(`${vpcId} ${ip}`);
        return vpcId === 'vpc-0123456789abcdef0' && ip === '127.0.0.1' ? current : undefined;
      },
    });
    let vpc = 'vpc-0123456789abcdef0';
    before(async () => {
      front = createServer((s) => imds.accept(vpc, s));
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
      port = (front.address() as { port: number }).port;
    });
    after(() => {
      imds.close();
      front.close();
    });
    beforeEach(() => {
      current = sampleInstance();
      vpc = 'vpc-0123456789abcdef0';
    });
    const get = (path: string, headers: Record<string, string> = {}) => ask('127.0.0.1', port, 'GET', path, headers);
    const token = async (ttl = '60', headers: Record<string, string> = {}) => ask('127.0.0.1', port, 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': ttl, ...headers });

    it('serves v1 GETs of the asking instance', async () => {
      const r = await get('/latest/meta-data/instance-id');
      assert.equal(r.status, 200);
      assert.equal(r.body, current.instanceId);
      assert.equal(r.headers['content-type'], 'text/plain');
      assert.equal((await get('/2009-04-04/meta-data/local-ipv4')).body, '10.0.1.5', 'a dated version too');
      assert.ok((await get('/')).body.split('\n').includes('latest'));
      assert.equal((await get('/latest/user-data')).body, '#!/bin/sh\necho hi\n');
      current = sampleInstance({ userData: undefined });
      assert.equal((await get('/latest/user-data')).status, 404);
    });

    it('hands out v2 tokens: TTL checked, X-Forwarded-For refused, the token then admits GETs', async () => {
      for (const ttl of ['0', '21601', '99999', 'x']) assert.equal((await token(ttl)).status, 400, ttl);
      assert.equal((await ask('127.0.0.1', port, 'PUT', '/latest/api/token')).status, 400, 'no TTL header');
      assert.equal((await token('60', { 'X-Forwarded-For': '10.0.1.9' })).status, 403);
      const t = await token('21600');
      assert.equal(t.status, 200);
      assert.equal(t.headers['x-aws-ec2-metadata-token-ttl-seconds'], '21600');
      assert.equal((await get('/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': t.body })).body, current.instanceId);
      assert.equal((await get('/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': 'forged' })).status, 401);
      // A token of another instance (same service) does not work for this one.
      const other = imds.tokens.issue('i-0fffffffffffffff0', 60);
      assert.equal((await get('/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': other })).status, 401);
    });

    it('answers the crawl of cloud-init 22.4 (Debian 12): token, version 2021-03-23, every listed entry, identity', async () => {
      // What DataSourceEc2 does on AWS: a token, then instance-id under its newest known version, then the whole
      // meta-data tree (a listing line ending in / is a directory; public-keys lists `<index>=<name>`).
      current = sampleInstance({ options: { ...metadataOptionsOf(null), httpTokens: 'required' } });
      const tok = (await token('21600')).body;
      const h = { 'X-aws-ec2-metadata-token': tok };
      assert.equal((await get('/2021-03-23/meta-data/instance-id', h)).body, current.instanceId);
      const leaves = new Map<string, string>();
      const crawl = async (path: string): Promise<void> => {
        const r = await get(path, h);
        assert.equal(r.status, 200, path);
        for (const line of r.body.split('\n')) {
          const entry = path.endsWith('public-keys/') ? `${line.split('=')[0]}/` : line;
          if (entry.endsWith('/')) await crawl(path + entry);
          else {
            const leaf = await get(path + entry, h);
            assert.equal(leaf.status, 200, path + entry);
            leaves.set((path + entry).replace('/2021-03-23/meta-data/', ''), leaf.body);
          }
        }
      };
      await crawl('/2021-03-23/meta-data/');
      assert.equal(leaves.get('public-keys/0/openssh-key'), 'ssh-ed25519 AAAAC3Nza mine\n', 'the key cloud-init installs');
      assert.equal(leaves.get('local-hostname'), 'ip-10-0-1-5.ec2.internal');
      assert.equal(leaves.get(`network/interfaces/macs/${current.mac}/local-ipv4s`), '10.0.1.5', 'what its network config is made from');
      assert.equal(leaves.get(`network/interfaces/macs/${current.mac}/device-number`), '0');
      assert.equal((await get('/2021-03-23/user-data', h)).body, '#!/bin/sh\necho hi\n');
      assert.deepEqual((await get('/2021-03-23/dynamic/instance-identity/', h)).body.split('\n').filter((l) => l === 'document'), ['document']);
      const doc = JSON.parse((await get('/2021-03-23/dynamic/instance-identity/document', h)).body) as Record<string, unknown>;
      assert.equal(doc.instanceId, current.instanceId);
      assert.equal(doc.region, 'us-east-1');
    });

    it('with HttpTokens=required answers 401 without a token, 200 with one', async () => {
      current = sampleInstance({ options: { ...metadataOptionsOf(null), httpTokens: 'required' } });
      assert.equal((await get('/latest/meta-data/instance-id')).status, 401);
      const t = await token();
      assert.equal((await get('/latest/meta-data/instance-id', { 'X-aws-ec2-metadata-token': t.body })).status, 200);
    });

    it('is off (403) with HttpEndpoint=disabled', async () => {
      current = sampleInstance({ options: { ...metadataOptionsOf(null), httpEndpoint: 'disabled' } });
      assert.equal((await get('/latest/meta-data/instance-id')).status, 403);
      assert.equal((await token()).status, 403);
    });

    it('answers 405 to other methods and to a GET of the token path, 404 to bad paths', async () => {
      for (const m of ['POST', 'DELETE', 'PATCH']) assert.equal((await ask('127.0.0.1', port, m, '/latest/meta-data/')).status, 405, m);
      assert.equal((await ask('127.0.0.1', port, 'PUT', '/latest/meta-data/')).status, 405);
      assert.equal((await get('/latest/api/token')).status, 405);
      assert.equal((await get('/latest/meta-data/../user-data')).status, 404);
      assert.equal((await get('/latest/meta-data/%2e%2e/user-data')).status, 404);
      assert.equal((await get('/bogus/meta-data/')).status, 404);
    });

    it('refuses a 10 MB request and keeps serving', async () => {
      const r = await ask('127.0.0.1', port, 'PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }, Buffer.alloc(10 * 1024 * 1024, 1)).catch((e: Error) => ({ status: -1, body: e.message, headers: {} }));
      assert.ok(r.status === 413 || r.status === -1, `refused (${r.status})`);
      assert.equal((await get('/latest/meta-data/instance-id')).status, 200);
    });

    it('knows the asker only by the connection: nothing for an unknown (VPC, address); headers change nothing', async () => {
      vpc = 'vpc-0fffffffffffffff0';
      assert.equal((await get('/latest/meta-data/instance-id', { 'X-Forwarded-For': '10.0.1.5' })).status, 404);
      assert.ok(seen.includes('vpc-0fffffffffffffff0 127.0.0.1'));
    });
  });
});

describe('a guest that sees its type, and the metadata listener\'s inputs (unit)', () => {
  it('gives a container exactly its vCPUs as a cpuset, spread by instance, capped at the host', async () => {
    const { cpusetFor } = await import('../../src/adapters/docker/guest-view.js');
    assert.equal(cpusetFor('i-1', 1, 8).split(',').length, 1);
    assert.equal(cpusetFor('i-1', 4, 8).split(',').length, 4);
    assert.equal(cpusetFor('i-1', 64, 2), '0,1');
    assert.equal(cpusetFor('i-1', 2, 8), cpusetFor('i-1', 2, 8), 'stable for an instance');
    const starts = new Set(Array.from({ length: 32 }, (_, i) => cpusetFor(`i-${i}`, 1, 8)));
    assert.ok(starts.size > 3, 'instances spread over the CPUs');
  });
  it('refuses an unsafe namespace, address or port before running anything', async () => {
    const { listenInNetns } = await import('../../src/adapters/exec/index.js');
    assert.throws(() => listenInNetns('ns; rm -rf /', '169.254.169.254', 80), TypeError);
    assert.throws(() => listenInNetns('thecloud-x', '169.254.169.254; id', 80), TypeError);
    assert.throws(() => listenInNetns('thecloud-x', '169.254.169.254', 0), TypeError);
  });
});
