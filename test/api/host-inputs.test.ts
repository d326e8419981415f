/**
 * Inputs that reach the host besides image locations (issue 13's review): user data is held to 16 KB in
 * every way it can be given, and an imported public key is kept as what was parsed, not as the text sent.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  DescribeImagesCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

describe('inputs that reach the host', () => {
  const t = useTestServer();

  it('user data: 16 KB at most, as base64 in RunInstances and as base64 or raw bytes in ModifyInstanceAttribute', async () => {
    const { ec2 } = t;
    const imageId = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images![0]!.ImageId!;
    const b64 = (n: number) => Buffer.alloc(n, 'a').toString('base64');
    await assert.rejects(ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, UserData: b64(16 * 1024 + 1) })), { name: 'InvalidParameterValue' });
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, UserData: b64(16 * 1024) }))).Instances![0]!.InstanceId!;
    const wait = { client: ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 };
    await waitUntilInstanceRunning(wait, { InstanceIds: [id] });
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceStopped(wait, { InstanceIds: [id] });
    const raw = (n: number) => Buffer.alloc(n, 0xff); // not base64 text: taken as the user data itself
    await assert.rejects(ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, UserData: { Value: raw(16 * 1024 + 1) } })), { name: 'InvalidParameterValue' });
    await assert.rejects(ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, UserData: { Value: Buffer.from(b64(16 * 1024 + 1)) } })), { name: 'InvalidParameterValue' });
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, UserData: { Value: raw(16 * 1024) } }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('an imported public key is kept as type, canonical base64 and a comment without control characters', async () => {
    const { ec2 } = t;
    const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(der)]).toString('base64');
    const sent = `ssh-ed25519 ${blob} me@host\x01\x1b[31m red\x7f`;
    await ec2.send(new ImportKeyPairCommand({ KeyName: 'odd-comment', PublicKeyMaterial: Buffer.from(sent) }));
    const k = (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['odd-comment'], IncludePublicKey: true }))).KeyPairs![0]!;
    assert.equal(k.PublicKey, `ssh-ed25519 ${blob} me@host[31m red`);
    await assert.rejects(
      ec2.send(new ImportKeyPairCommand({ KeyName: 'junk', PublicKeyMaterial: Buffer.from(`ssh-ed25519 ${blob.slice(0, 10)}"*${blob.slice(10)} x`) })),
      { name: 'InvalidKey.Format' },
    );
  });
});
