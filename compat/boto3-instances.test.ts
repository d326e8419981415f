/**
 * Python boto3 driving instances that really run (Docker containers): run_instances with user data, tags and
 * a ClientToken, boto3's own waiters (instance_running/stopped/terminated, instance_status_ok,
 * image_available), the describe_instances paginator, key pair fingerprints, the ClientError a user catches,
 * and the resource layer (ec2.Instance). Each step is one run of compat/python/instances.py (or calls.py).
 * Skipped when python3 cannot import boto3 (PYTHON names another interpreter); a missing Docker skips
 * locally and fails in CI (needBackend).
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../test/support/use-server.js';
import { needBackend } from '../test/support/backends.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { awsClientEnv, runs, needClient } from './support.js';

const PYTHON = process.env.PYTHON ?? 'python3';
const DIR = fileURLToPath(new URL('./python/', import.meta.url));

/** Runs compat/python/<script> <endpoint> [...args] with `input` as JSON on stdin; its stdout is one JSON document. */
async function python(script: string, args: string[], input: unknown): Promise<any> {
  const r = await execa(PYTHON, [script, ...args], {
    cwd: DIR,
    env: awsClientEnv({ PYTHONDONTWRITEBYTECODE: '1' }),
    extendEnv: false,
    reject: false,
    timeout: 280_000,
    input: JSON.stringify(input),
  });
  assert.equal(r.exitCode, 0, `${script} ${args.slice(1).join(' ')} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return JSON.parse(String(r.stdout));
}

interface Outcome {
  ok: boolean;
  status: number;
  code?: string;
  message?: string;
  result?: any;
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer) => Buffer.concat([u32(b.length), b]);

/** A fresh ED25519 public key as an OpenSSH line. */
function ed25519PublicKey(comment: string): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const x = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  return `ssh-ed25519 ${Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(x)]).toString('base64')} ${comment}`;
}

describe('compat: Python boto3, instances on the docker backend', function () {
  this.timeout(300_000);
  let imageId: string;
  let dir: string;
  const stamp = Date.now().toString(36);
  const step = (name: string, input: Record<string, unknown>) => python('instances.py', [t.url, name], input);

  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: async (ctx) => {
      await needClient(ctx, 'boto3', PYTHON, ['-c', 'import boto3']);
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
    },
    // Whatever a failed step left behind: terminate the account's instances, deregister its images.
    beforeClose: async ({ ec2 }) => {
      const d = await ec2.send(new DescribeInstancesCommand({})).catch(() => undefined);
      const live = (d?.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId!);
      if (live.length) {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: live })).catch(() => undefined);
        await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: live }).catch(() => undefined);
      }
      const mine = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] })).catch(() => undefined);
      for (const img of mine?.Images ?? []) await ec2.send(new DeregisterImageCommand({ ImageId: img.ImageId! })).catch(() => undefined);
    },
  });
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thecloud-boto3-instances-'));
    const images = await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }));
    assert.equal(images.Images?.length, 1, 'the built-in image thecloud-busybox is registered');
    imageId = images.Images![0]!.ImageId!;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('key pairs', () => {
    const names = { rsaName: `b3-rsa-${stamp}`, edName: `b3-ed-${stamp}`, missingName: `b3-missing-${stamp}` };
    const edPublicKey = ed25519PublicKey('imported@boto3');
    let out: any;
    before(async () => {
      out = await step('keypairs', { ...names, edPublicKey });
    });

    it('create_key_pair (rsa): a PKCS#1 private key, and a fingerprint of 20 colon-separated bytes, the SHA-1 of its PKCS#8 DER', () => {
      const k = out.rsa;
      assert.equal(k.KeyName, names.rsaName);
      assert.match(k.KeyPairId, /^key-[0-9a-f]{17}$/);
      assert.match(k.KeyMaterial, /^-----BEGIN RSA PRIVATE KEY-----\n/);
      assert.match(k.KeyFingerprint, /^[0-9a-f]{2}(:[0-9a-f]{2}){19}$/);
      const der = createPrivateKey(k.KeyMaterial).export({ type: 'pkcs8', format: 'der' });
      assert.equal(k.KeyFingerprint, createHash('sha1').update(der).digest('hex').match(/../g)!.join(':'));
    });

    it('import_key_pair (ed25519): the fingerprint is the base64 SHA-256 of the key, as ssh-keygen -l shows it', async () => {
      const k = out.ed;
      assert.equal(k.KeyName, names.edName);
      assert.equal(k.KeyMaterial ?? undefined, undefined);
      assert.match(k.KeyFingerprint, /^[A-Za-z0-9+/]{43}=$/);
      const blob = Buffer.from(edPublicKey.split(' ')[1]!, 'base64');
      assert.equal(k.KeyFingerprint, createHash('sha256').update(blob).digest('base64'));
      const file = join(dir, 'ed.pub');
      writeFileSync(file, edPublicKey + '\n');
      if (await runs('sh', ['-c', 'command -v ssh-keygen'])) {
        const r = await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { reject: false });
        assert.equal(r.exitCode, 0, String(r.stderr));
        assert.match(String(r.stdout), new RegExp(`^256 SHA256:${k.KeyFingerprint.replace(/=+$/, '').replace(/\+/g, '\\+')} imported@boto3 \\(ED25519\\)$`));
      } else console.log('      (no ssh-keygen: the fingerprint was checked against a SHA-256 computed here only)');
    });

    it('describe_key_pairs(IncludePublicKey=True) gives both, with their types, fingerprints and public keys', () => {
      const byName = new Map<string, any>(out.described.map((p: any) => [p.KeyName, p]));
      const rsa = byName.get(names.rsaName);
      const ed = byName.get(names.edName);
      assert.deepEqual([rsa?.KeyPairId, rsa?.KeyType, rsa?.KeyFingerprint], [out.rsa.KeyPairId, 'rsa', out.rsa.KeyFingerprint]);
      assert.deepEqual([ed?.KeyPairId, ed?.KeyType, ed?.KeyFingerprint], [out.ed.KeyPairId, 'ed25519', out.ed.KeyFingerprint]);
      assert.match(rsa.PublicKey, /^ssh-rsa AAAA/);
      assert.equal(ed.PublicKey.split(' ').slice(0, 2).join(' '), edPublicKey.split(' ').slice(0, 2).join(' '));
    });

    it('ClientError InvalidKeyPair.Duplicate (HTTP 400) for importing the same name again', () => {
      const o: Outcome = out.again;
      assert.equal(o.ok, false);
      assert.deepEqual([o.code, o.status], ['InvalidKeyPair.Duplicate', 400], o.message);
    });

    it('ClientError InvalidKeyPair.NotFound (HTTP 400) for describe_key_pairs of a missing name', () => {
      const o: Outcome = out.missing;
      assert.equal(o.ok, false);
      assert.deepEqual([o.code, o.status], ['InvalidKeyPair.NotFound', 400], o.message);
      assert.match(o.message ?? '', new RegExp(names.missingName));
    });
  });

  describe('an instance through its lifecycle', () => {
    const marker = `boto3-user-data-ran-${stamp}`;
    const nameTag = `b3-web-${stamp}`;
    let id: string;

    it('run_instances with UserData, TagSpecifications and a ClientToken; the same token again returns the same instance; instance_running', async () => {
      const token = `b3-token-${stamp}`;
      const out = await step('launch', { imageId, keyName: `b3-rsa-${stamp}`, marker, nameTag, token });
      assert.equal(out.first.ids.length, 1);
      id = out.first.ids[0];
      assert.match(id, /^i-[0-9a-f]{17}$/);
      assert.deepEqual(out.first.states, ['pending']);
      assert.equal(out.first.clientToken, token);
      assert.deepEqual(out.second, { reservation: out.first.reservation, ids: [id] }, 'idempotent: same reservation, same instance');
      assert.equal(Buffer.from(out.userDataSent, 'base64').toString(), `#!/bin/sh\necho ${marker}\n`, 'boto3 sent the user data base64-encoded');
      assert.ok(out.waiterPolls >= 1);
      assert.equal(out.after.length, 1);
      const i = out.after[0];
      assert.deepEqual([i.id, i.state, i.key, i.token], [id, 'running', `b3-rsa-${stamp}`, token]);
      assert.deepEqual(i.tags, [{ Key: 'Name', Value: nameTag }]);
      assert.deepEqual(out.byToken, [id], 'one instance has the token: the second call launched nothing');
    });

    it('get_console_output shows the user data output; stop + instance_stopped, status not-applicable; resize; start + instance_running; reboot (one more boot) + instance_status_ok', async () => {
      assert.ok(id, 'launched by the previous test');
      const out = await step('lifecycle', { id, marker });
      assert.ok(out.console.includes(marker), `console: ${out.console}`);
      assert.deepEqual(out.stop, [['running', 'stopping']]);
      assert.equal(out.stopped, 'stopped');
      assert.equal(out.type, 't3.small');
      assert.deepEqual(out.start, [['stopped', 'pending']]);
      assert.deepEqual(out.running, ['running', 't3.small']);
      assert.deepEqual(out.stoppedStatus, [['stopped', 'not-applicable']], 'a stopped instance: status not-applicable');
      assert.equal(out.bootsAdded, 1, 'the reboot shows as one more boot on the console');
      assert.deepEqual(out.status, [[id, 'running', 'ok', 'ok']]);
      for (const k of ['stoppedPolls', 'runningPolls', 'statusPolls']) assert.ok(out[k] >= 1 && out[k] <= 120, `${k}: ${out[k]}`);
    });

    it('create_image + image_available; describe_images(Owners=["self"]) lists it until deregister_image', async () => {
      assert.ok(id, 'launched by the first test');
      const name = `b3-image-${stamp}`;
      const out = await step('image', { id, name });
      assert.match(out.imageId, /^ami-[0-9a-f]{17}$/);
      assert.deepEqual(out.mine, [[out.imageId, name, 'available', 'made by boto3']]);
      assert.deepEqual(out.afterDeregister, []);
      assert.equal(out.byId.ok, false);
      assert.deepEqual([out.byId.code, out.byId.status], ['InvalidAMIID.NotFound', 400]);
      assert.equal(out.instance, 'running', 'the source instance runs again after the image is taken');
    });

    it('the resource API: ec2.Instance(id).state, .reload(), .terminate(); instance_terminated; instance_running then fails at once', async () => {
      assert.ok(id, 'launched by the first test');
      const out = await step('resource', { id });
      assert.deepEqual(out.state, { Code: 16, Name: 'running' });
      assert.equal(out.type, 't3.small');
      assert.equal(out.key, `b3-rsa-${stamp}`);
      assert.deepEqual(out.tags, [{ Key: 'Name', Value: nameTag }]);
      assert.match(out.ip, /^172\.31\.\d+\.\d+$/);
      assert.deepEqual(out.terminate, [[id, 'shutting-down']]);
      assert.equal(out.cachedBeforeReload, 'running', 'a loaded resource keeps its attributes until reload()');
      assert.ok(['shutting-down', 'terminated'].includes(out.afterReload), out.afterReload);
      assert.deepEqual(out.final, { Code: 48, Name: 'terminated' });
      assert.match(out.runningWaiter, /Waiter InstanceRunning failed: Waiter encountered a terminal failure state/);
      assert.ok(out.runningWaiterSeconds < 5, `the failure acceptor ends the wait on the first poll (${out.runningWaiterSeconds} s)`);
    });
  });

  describe('the describe_instances paginator', () => {
    let out: any;
    before(async () => {
      out = await step('paginate', { imageId, tag: `b3-batch-${stamp}` });
    });

    it('PageSize=5 over 7 instances (reservations of 4, 1, 1, 1): every instance once, in pages of 5 and 2', () => {
      const launched: Record<string, string> = out.launched;
      assert.equal(Object.keys(launched).length, 7);
      const seenIds = out.seen.map(([, i]: [string, string]) => i);
      assert.deepEqual([...seenIds].sort(), Object.keys(launched).sort(), 'every instance exactly once');
      for (const [r, i] of out.seen) assert.equal(r, launched[i], `${i} is listed under its own reservation`);
      assert.deepEqual(out.pages, [5, 2]);
      assert.deepEqual(out.maxResultsSent.map(Number), [5, 5]);
      assert.deepEqual(out.tokensSent, [false, true]);
    });

    it('terminate_instances + instance_terminated ends all seven', () => {
      assert.deepEqual(out.terminating, Array(7).fill('shutting-down'));
      assert.deepEqual(out.final, Array(7).fill('terminated'));
    });
  });

  describe('ClientError codes and HTTP statuses', () => {
    let outcomes: Record<string, Outcome>;
    let terminatedId: string;
    const cases: [string, string, (img: string, dead: string) => Record<string, unknown>, number, string][] = [
      ['an AMI that does not exist', 'run_instances', () => ({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1 }), 400, 'InvalidAMIID.NotFound'],
      ['an instance type that does not exist', 'run_instances', (img) => ({ ImageId: img, InstanceType: 't9.huge', MinCount: 1, MaxCount: 1 }), 400, 'InvalidParameterValue'],
      ['DryRun on run_instances', 'run_instances', (img) => ({ ImageId: img, MinCount: 1, MaxCount: 1, DryRun: true }), 412, 'DryRunOperation'],
      ['terminate_instances with a malformed id', 'terminate_instances', () => ({ InstanceIds: ['i-nothex'] }), 400, 'InvalidInstanceID.Malformed'],
      ['start_instances on a terminated instance', 'start_instances', (_, dead) => ({ InstanceIds: [dead] }), 400, 'IncorrectInstanceState'],
      ['describe_instances of an instance that does not exist', 'describe_instances', () => ({ InstanceIds: ['i-0123456789abcdef0'] }), 400, 'InvalidInstanceID.NotFound'],
    ];
    let countBefore: number;
    let countAfter: number;

    const count = async () => ((await t.ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []).length;
    before(async () => {
      // An instance terminated by an earlier test; or, when those did not get that far, one terminated here.
      const { ec2 } = t;
      const d = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['terminated'] }] }));
      terminatedId = d.Reservations?.[0]?.Instances?.[0]?.InstanceId ?? '';
      if (!terminatedId) {
        const r = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }));
        terminatedId = r.Instances![0]!.InstanceId!;
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [terminatedId] }));
        await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: [terminatedId] });
      }
      countBefore = await count();
      outcomes = await python('calls.py', [t.url], cases.map(([what, op, params]) => ({ id: what, op, params: params(imageId, terminatedId) })));
      countAfter = await count();
    });

    for (const [what, op, , status, code] of cases) {
      it(`${op}: ClientError ${code} (HTTP ${status}) for ${what}`, () => {
        const o = outcomes[what];
        assert.ok(o, 'the call ran');
        assert.equal(o.ok, false, 'the call raised ClientError');
        assert.equal(o.code, code, o.message);
        assert.equal(o.status, status);
      });
    }

    it('none of the failed run_instances calls launched anything', () => {
      assert.equal(countAfter, countBefore);
    });
  });
});
