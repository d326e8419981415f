import { request } from 'node:http';
import type { InstanceMetadata } from '../../src/services/metadata/tree.js';
import { DEFAULT_METADATA_OPTIONS } from '../../src/services/metadata/options.js';

/** One instance's metadata record as the service would load it (the tests change what they need). */
export function sampleInstance(over: Partial<InstanceMetadata> = {}): InstanceMetadata {
  return {
    instanceId: 'i-0123456789abcdef0', accountId: '123456789012', reservationId: 'r-0123456789abcdef0', launchIndex: 0,
    imageId: 'ami-0123456789abcdef0', instanceType: 't3.micro', architecture: 'x86_64', region: 'us-east-1',
    availabilityZone: 'us-east-1a', launchTime: new Date('2026-11-26T10:00:00.123Z'), privateIp: '10.0.1.5', mac: '02:aa:bb:cc:dd:ee',
    eniId: 'eni-0123456789abcdef0', deviceIndex: 0, subnetId: 'subnet-0123456789abcdef0', subnetCidr: '10.0.1.0/24',
    vpcId: 'vpc-0123456789abcdef0', vpcCidrs: ['10.0.0.0/16'], securityGroups: [{ id: 'sg-0123456789abcdef0', name: 'web' }],
    keyName: 'mine', publicKey: 'ssh-ed25519 AAAAC3Nza mine', userData: Buffer.from('#!/bin/sh\necho hi\n'),
    tags: [{ key: 'Name', value: 'box' }], options: { ...DEFAULT_METADATA_OPTIONS }, ...over,
  };
}

export interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One HTTP request (no proxy, no keep-alive), to any host and port: a plain client as a guest's curl. */
export function ask(host: string, port: number, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, headers: { Connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
