/**
 * The real AWS CLI (`aws ec2 ...`) driving instances that really run: Docker containers (the whole
 * lifecycle, key pairs, images, the CLI's own waiters, the errors a user sees) and one libvirt VM (boots,
 * runs its user data, prints it to the serial console). Skipped when no `aws` is installed (AWS_CLI names
 * another binary); a missing backend skips locally and fails in CI (needBackend).
 *
 * `aws ec2 wait ...` polls with botocore's waiter definitions, whose delay is 15 s. To keep the run short,
 * the CLI is pointed (AWS_DATA_PATH) at a copy of the installed botocore's EC2 waiter file in which only
 * the delays are shortened: the acceptors (success, failure, retry) are botocore's own, unchanged.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import {
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../test/support/use-server.js';
import { needBackend } from '../test/support/backends.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../src/adapters/libvirt/index.js';
import { awsClientEnv, limit, runs, needClient } from './support.js';
import { eventually } from '../test/support/eventually.js';

const AWS = process.env.AWS_CLI ?? 'aws';
const PYTHON = process.env.PYTHON ?? 'python3';
const WAITER_DELAY_S = 2;

interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: any;
}

/**
 * A directory for AWS_DATA_PATH holding ec2/<version>/waiters-2.json: botocore's own EC2 waiters with the
 * delay shortened. Undefined (the CLI then keeps its 15 s delay) when python3 cannot load botocore.
 */
async function fastWaiters(dir: string): Promise<string | undefined> {
  const script = [
    'import json, sys, botocore.session',
    's = botocore.session.get_session()',
    "version = s.get_service_model('ec2').api_version",
    "model = s.get_component('data_loader').load_service_model('ec2', 'waiters-2', version)",
    `for w in model['waiters'].values(): w['delay'] = ${WAITER_DELAY_S}`,
    "json.dump({'version': version, 'model': model}, sys.stdout)",
  ].join('\n');
  const r = await execa(PYTHON, ['-c', script], { reject: false, timeout: 30_000, env: awsClientEnv(), extendEnv: false });
  if (r.exitCode !== 0) {
    console.log(`      (could not copy botocore's waiters, the CLI waits with its own 15 s delay: ${String(r.stderr).trim().split('\n').pop()})`);
    return undefined;
  }
  const { version, model } = JSON.parse(String(r.stdout)) as { version: string; model: unknown };
  const target = join(dir, 'ec2', version);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, 'waiters-2.json'), JSON.stringify(model));
  return dir;
}

/** The CLI bound to one server: `aws ec2 <args> --endpoint-url <server> --output json`. */
function cliFor(url: () => string, dataPath: () => string | undefined) {
  async function aws(args: string[], timeout = 60_000): Promise<CliResult> {
    const extra: Record<string, string> = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' };
    const data = dataPath();
    if (data) extra.AWS_DATA_PATH = data;
    const r = await execa(AWS, ['ec2', ...args, '--endpoint-url', url(), '--output', 'json'], {
      env: awsClientEnv(extra),
      extendEnv: false,
      reject: false,
      timeout,
    });
    const stdout = String(r.stdout);
    return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr), json: stdout.trim() ? JSON.parse(stdout) : undefined };
  }
  /** A command that must succeed; its JSON output. */
  async function ok(args: string[]): Promise<any> {
    const r = await aws(args);
    assert.equal(r.exitCode, 0, `aws ec2 ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.json;
  }
  /** `aws ec2 wait <what> ...`: exits 0 and prints nothing once the waiter's success state is reached. */
  async function wait(what: string, args: string[]): Promise<void> {
    const r = await aws(['wait', what, ...args], 240_000);
    assert.equal(r.exitCode, 0, `aws ec2 wait ${what} ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    assert.equal(r.stdout.trim(), '');
  }
  /** A command that must fail the way the CLI reports a service error. */
  async function fails(args: string[], code: string): Promise<CliResult> {
    const r = await aws(args);
    assert.ok([254, 255].includes(r.exitCode), `aws ec2 ${args.join(' ')}: exit code ${r.exitCode}; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(`(${code})`), `expected (${code}); stderr: ${r.stderr}`);
    assert.match(r.stderr, /An error occurred \([\w.]+\) when calling the \w+ operation/);
    assert.equal(r.stdout.trim(), '');
    return r;
  }
  return { aws, ok, wait, fails };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const sshString = (b: Buffer) => Buffer.concat([u32(b.length), b]);

/** A fresh ED25519 public key as an OpenSSH line, and its SHA-256 fingerprint (base64, padded) computed here. */
function ed25519PublicKey(comment: string): { line: string; sha256: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const x = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(x)]);
  return { line: `ssh-ed25519 ${blob.toString('base64')} ${comment}`, sha256: createHash('sha256').update(blob).digest('base64') };
}

/** Whether ssh-keygen is installed (the fingerprints are then also checked against its own). */
const hasSshKeygen = () => runs('sh', ['-c', 'command -v ssh-keygen']);

/** `ssh-keygen -lf <file>`'s "SHA256:..." fingerprint. */
async function sshKeygenFingerprint(file: string): Promise<string | undefined> {
  const r = await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { reject: false, timeout: 10_000 });
  assert.equal(r.exitCode, 0, `ssh-keygen -lf ${file}: ${r.stderr}`);
  return /(SHA256:[A-Za-z0-9+/]+)/.exec(String(r.stdout))?.[1];
}

/** Terminates every instance the account still has and deregisters the images it owns (SDK, best effort). */
async function cleanUp(ec2: EC2Client): Promise<void> {
  const d = await ec2.send(new DescribeInstancesCommand({})).catch(() => undefined);
  const live = (d?.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId!);
  if (live.length) {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: live })).catch(() => undefined);
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: live }).catch(() => undefined);
  }
  const images = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] })).catch(() => undefined);
  for (const img of images?.Images ?? []) await ec2.send(new DeregisterImageCommand({ ImageId: img.ImageId! })).catch(() => undefined);
}

describe('compat: AWS CLI, instances on the docker backend', function () {
  this.timeout(300_000);
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: async (ctx) => {
      await needClient(ctx, 'aws-cli', AWS, ['--version']);
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
    },
    beforeClose: ({ ec2 }) => cleanUp(ec2),
  });
  let dir: string;
  let dataPath: string | undefined;
  const { aws, ok, wait, fails } = cliFor(() => t.url, () => dataPath);

  const stamp = Date.now().toString(36);
  const keyName = `cli-ed-${stamp}`;
  const importedName = `cli-imported-${stamp}`;
  const nameTag = `cli-web-${stamp}`;
  const marker = `cli-user-data-ran-${stamp}`;
  let imageId: string;
  let ids: string[] = [];
  let reservationId: string;
  let ips: string[] = [];
  let newImageId: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thecloud-cli-instances-'));
    dataPath = await fastWaiters(join(dir, 'data'));
    const found = await ok(['describe-images', '--filters', 'Name=name,Values=thecloud-busybox', '--query', 'Images[].ImageId']);
    assert.equal(found.length, 1, 'the built-in image thecloud-busybox is registered');
    imageId = found[0];
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('key pairs', () => {
    it('create-key-pair --key-type ed25519 hands out an OpenSSH private key whose public key has the returned fingerprint', async () => {
      const k = await ok(['create-key-pair', '--key-name', keyName, '--key-type', 'ed25519']);
      assert.equal(k.KeyName, keyName);
      assert.match(k.KeyPairId, /^key-[0-9a-f]{17}$/);
      assert.match(k.KeyMaterial, /^-----BEGIN OPENSSH PRIVATE KEY-----\n[\s\S]+\n-----END OPENSSH PRIVATE KEY-----$/);
      assert.match(k.KeyFingerprint, /^[A-Za-z0-9+/]{43}=$/, 'ED25519: base64 SHA-256');
      const d = await ok(['describe-key-pairs', '--key-names', keyName, '--include-public-key']);
      assert.equal(d.KeyPairs.length, 1);
      assert.deepEqual([d.KeyPairs[0].KeyPairId, d.KeyPairs[0].KeyType, d.KeyPairs[0].KeyFingerprint], [k.KeyPairId, 'ed25519', k.KeyFingerprint]);
      const [kind, b64] = d.KeyPairs[0].PublicKey.split(' ');
      assert.equal(kind, 'ssh-ed25519');
      assert.equal(createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64'), k.KeyFingerprint);

      const keyFile = join(dir, 'ed25519.pem');
      writeFileSync(keyFile, k.KeyMaterial + '\n', { mode: 0o600 });
      if (await hasSshKeygen()) {
        const pub = await execa('ssh-keygen', ['-y', '-f', keyFile], { reject: false });
        assert.equal(pub.exitCode, 0, `ssh-keygen -y cannot read the private key: ${pub.stderr}`);
        assert.equal(String(pub.stdout).trim().split(' ').slice(0, 2).join(' '), `${kind} ${b64}`, 'ssh-keygen -y derives the same public key');
        writeFileSync(join(dir, 'ed25519.pub'), String(pub.stdout));
        assert.equal(await sshKeygenFingerprint(join(dir, 'ed25519.pub')), `SHA256:${k.KeyFingerprint.replace(/=+$/, '')}`);
      }
    });

    it('import-key-pair of an ed25519 public key (fileb://): the fingerprint is the SHA-256 ssh-keygen -l shows', async () => {
      const key = ed25519PublicKey('imported@cli');
      const file = join(dir, 'imported.pub');
      writeFileSync(file, key.line + '\n');
      const k = await ok(['import-key-pair', '--key-name', importedName, '--public-key-material', `fileb://${file}`]);
      assert.equal(k.KeyName, importedName);
      assert.equal(k.KeyMaterial, undefined, 'an import returns no private key');
      assert.equal(k.KeyFingerprint, key.sha256);
      if (await hasSshKeygen()) assert.equal(await sshKeygenFingerprint(file), `SHA256:${k.KeyFingerprint.replace(/=+$/, '')}`);
      const d = await ok(['describe-key-pairs', '--filters', `Name=key-name,Values=${importedName}`, '--query', 'KeyPairs[].[KeyName,KeyType,KeyFingerprint]']);
      assert.deepEqual(d, [[importedName, 'ed25519', key.sha256]]);
    });
  });

  describe('lifecycle', () => {
    it('run-instances --count 2 with --key-name, --user-data and --tag-specifications: two pending instances, one reservation', async () => {
      const r = await ok([
        'run-instances', '--image-id', imageId, '--instance-type', 't3.micro', '--count', '2', '--key-name', keyName,
        '--user-data', `#!/bin/sh\necho ${marker}\n`,
        '--tag-specifications', `ResourceType=instance,Tags=[{Key=Name,Value=${nameTag}},{Key=suite,Value=cli-instances}]`,
      ]);
      assert.match(r.ReservationId, /^r-[0-9a-f]{17}$/);
      assert.equal(r.OwnerId, '000000000000');
      assert.equal(r.Instances.length, 2);
      reservationId = r.ReservationId;
      ids = r.Instances.map((i: any) => i.InstanceId);
      ips = r.Instances.map((i: any) => i.PrivateIpAddress);
      assert.deepEqual(r.Instances.map((i: any) => i.AmiLaunchIndex), [0, 1]);
      for (const i of r.Instances) {
        assert.match(i.InstanceId, /^i-[0-9a-f]{17}$/);
        assert.deepEqual(i.State, { Code: 0, Name: 'pending' });
        assert.equal(i.ImageId, imageId);
        assert.equal(i.InstanceType, 't3.micro');
        assert.equal(i.KeyName, keyName);
        assert.match(i.PrivateIpAddress, /^172\.31\.\d+\.\d+$/);
        assert.deepEqual(i.Tags.map((t: any) => `${t.Key}=${t.Value}`).sort(), [`Name=${nameTag}`, 'suite=cli-instances']);
      }
      assert.equal(new Set(ids).size, 2);
      assert.equal(new Set(ips).size, 2, 'two different private addresses');
    });

    it('aws ec2 wait instance-running returns once both run', async () => {
      await wait('instance-running', ['--instance-ids', ...ids]);
      const states = await ok(['describe-instances', '--instance-ids', ...ids, '--query', 'Reservations[].Instances[].State.Name']);
      assert.deepEqual(states, ['running', 'running']);
    });

    it('describe-instances --filters (tag:Name, instance-state-name, private-ip-address, key-name, reservation-id) with --query', async () => {
      const q = ['--query', 'Reservations[].Instances[].InstanceId'];
      const sorted = [...ids].sort();
      const cases: [string[], string[]][] = [
        [[`Name=tag:Name,Values=${nameTag}`], sorted],
        [[`Name=tag:Name,Values=${nameTag}`, 'Name=instance-state-name,Values=running'], sorted],
        [[`Name=tag:Name,Values=${nameTag}`, 'Name=instance-state-name,Values=stopped,terminated'], []],
        [[`Name=private-ip-address,Values=${ips[1]}`], [ids[1]!]],
        [[`Name=key-name,Values=${keyName}`], sorted],
        [[`Name=key-name,Values=${importedName}`], []],
        [[`Name=reservation-id,Values=${reservationId}`], sorted],
        [['Name=tag:suite,Values=cli-*', `Name=private-ip-address,Values=${ips[0]}`], [ids[0]!]],
      ];
      // Independent reads, four CLI processes at a time.
      const parallel = limit(4);
      const got = await Promise.all(cases.map(([filters]) => parallel<string[]>(() => ok(['describe-instances', '--filters', ...filters, ...q]))));
      for (const [n, [filters, expected]] of cases.entries()) assert.deepEqual([...got[n]!].sort(), expected, filters.join(' '));
      const one = await ok(['describe-instances', '--instance-ids', ids[0]!, '--query', 'Reservations[0].{r:ReservationId,ip:Instances[0].PrivateIpAddress,key:Instances[0].KeyName,vpc:Instances[0].VpcId,eni:Instances[0].NetworkInterfaces[0].PrivateIpAddress}']);
      assert.deepEqual([one.r, one.ip, one.key, one.eni], [reservationId, ips[0], keyName, ips[0]]);
      assert.match(one.vpc, /^vpc-[0-9a-f]{17}$/);
    });

    it('get-console-output shows the output of the user data script (the CLI decodes it)', async () => {
      const text = await eventually('the marker on the console', async () => {
        const o = await ok(['get-console-output', '--instance-id', ids[0]!]);
        assert.equal(o.InstanceId, ids[0]);
        return typeof o.Output === 'string' && o.Output.includes(marker) ? (o.Output as string) : undefined;
      }, 60_000);
      assert.ok(!/^[A-Za-z0-9+/=\s]+$/.test(text), 'plain text, not base64');
    });

    it('modify-instance-attribute --instance-type on a running instance is IncorrectInstanceState', async () => {
      await fails(['modify-instance-attribute', '--instance-id', ids[0]!, '--instance-type', 'Value=t3.small'], 'IncorrectInstanceState');
    });

    it('stop-instances reports running -> stopping, and aws ec2 wait instance-stopped returns', async () => {
      const o = await ok(['stop-instances', '--instance-ids', ids[0]!]);
      assert.deepEqual(o.StoppingInstances, [{ InstanceId: ids[0], CurrentState: { Code: 64, Name: 'stopping' }, PreviousState: { Code: 16, Name: 'running' } }]);
      await wait('instance-stopped', ['--instance-ids', ids[0]!]);
      const i = await ok(['describe-instances', '--instance-ids', ids[0]!, '--query', 'Reservations[0].Instances[0]']);
      assert.deepEqual(i.State, { Code: 80, Name: 'stopped' });
      assert.equal(i.StateReason?.Code, 'Client.UserInitiatedShutdown');
      assert.match(i.StateTransitionReason, /^User initiated \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\)$/);
      // describe-instance-status: a stopped instance is left out, unless asked for all; then it is not-applicable.
      const st = await ok(['describe-instance-status', '--instance-ids', ids[0]!]);
      assert.deepEqual(st.InstanceStatuses, []);
      const all = await ok(['describe-instance-status', '--instance-ids', ids[0]!, '--include-all-instances', '--query', 'InstanceStatuses[0].[InstanceState.Name,InstanceStatus.Status,SystemStatus.Status]']);
      assert.deepEqual(all, ['stopped', 'not-applicable', 'not-applicable']);
    });

    it('modify-instance-attribute --instance-type Value=t3.small, then describe-instance-attribute shows it', async () => {
      const r = await aws(['modify-instance-attribute', '--instance-id', ids[0]!, '--instance-type', 'Value=t3.small']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), '');
      const a = await ok(['describe-instance-attribute', '--instance-id', ids[0]!, '--attribute', 'instanceType']);
      assert.deepEqual(a, { InstanceId: ids[0], InstanceType: { Value: 't3.small' } });
    });

    it('start-instances reports stopped -> pending, aws ec2 wait instance-running returns, with the new type', async () => {
      const o = await ok(['start-instances', '--instance-ids', ids[0]!]);
      assert.deepEqual(o.StartingInstances, [{ InstanceId: ids[0], CurrentState: { Code: 0, Name: 'pending' }, PreviousState: { Code: 80, Name: 'stopped' } }]);
      await wait('instance-running', ['--instance-ids', ids[0]!]);
      const i = await ok(['describe-instances', '--instance-ids', ids[0]!, '--query', 'Reservations[0].Instances[0].[State.Name,InstanceType,PrivateIpAddress]']);
      assert.deepEqual(i, ['running', 't3.small', ips[0]]);
    });

    it('reboot-instances prints nothing and the console shows one more boot; aws ec2 wait instance-status-ok returns; describe-instance-status says ok', async () => {
      // The init wrapper says so on every start of the container.
      const boots = async () => String((await ok(['get-console-output', '--instance-id', ids[0]!, '--latest'])).Output ?? '').split('thecloud-init: instance starting').length - 1;
      const before = await boots();
      const r = await aws(['reboot-instances', '--instance-ids', ids[0]!]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), '');
      await eventually('one more boot on the console', async () => ((await boots()) > before ? true : undefined), 60_000);
      assert.equal(await boots(), before + 1);
      await wait('instance-status-ok', ['--instance-ids', ...ids]);
      const st = await ok(['describe-instance-status', '--instance-ids', ...ids]);
      const byId = new Map(st.InstanceStatuses.map((x: any) => [x.InstanceId, x]));
      for (const id of ids) {
        const x: any = byId.get(id);
        assert.ok(x, `a status for ${id}`);
        assert.deepEqual(x.InstanceState, { Code: 16, Name: 'running' });
        assert.equal(x.InstanceStatus.Status, 'ok');
        assert.equal(x.SystemStatus.Status, 'ok');
        assert.match(x.AvailabilityZone, /^us-east-1[abc]$/);
      }
    });

    it('create-image from an instance; aws ec2 wait image-available; describe-images --owners self lists it', async () => {
      const name = `cli-image-${stamp}`;
      const o = await ok(['create-image', '--instance-id', ids[1]!, '--name', name, '--description', 'made by the CLI']);
      assert.match(o.ImageId, /^ami-[0-9a-f]{17}$/);
      newImageId = o.ImageId;
      await wait('image-available', ['--image-ids', newImageId]);
      const mine = await ok(['describe-images', '--owners', 'self']);
      assert.deepEqual(mine.Images.map((i: any) => [i.ImageId, i.Name, i.State, i.OwnerId, i.Description]), [[newImageId, name, 'available', '000000000000', 'made by the CLI']]);
      const states = await ok(['describe-instances', '--instance-ids', ids[1]!, '--query', 'Reservations[0].Instances[0].State.Name']);
      assert.equal(states, 'running', 'the source instance runs again after the image is taken');
    });

    it('deregister-image removes it from describe-images --owners self', async () => {
      const r = await aws(['deregister-image', '--image-id', newImageId]);
      assert.equal(r.exitCode, 0, r.stderr);
      const mine = await ok(['describe-images', '--owners', 'self', '--query', 'Images[].ImageId']);
      assert.deepEqual(mine, []);
      await fails(['run-instances', '--image-id', newImageId, '--count', '1'], 'InvalidAMIID.NotFound');
    });

    it('terminate-instances reports -> shutting-down, and aws ec2 wait instance-terminated returns; they stay visible', async () => {
      const o = await ok(['terminate-instances', '--instance-ids', ...ids]);
      const changes = [...o.TerminatingInstances].sort((a: any, b: any) => a.InstanceId.localeCompare(b.InstanceId));
      assert.deepEqual(changes, [...ids].sort().map((id) => ({ InstanceId: id, CurrentState: { Code: 32, Name: 'shutting-down' }, PreviousState: { Code: 16, Name: 'running' } })));
      await wait('instance-terminated', ['--instance-ids', ...ids]);
      const states = await ok(['describe-instances', '--filters', `Name=tag:Name,Values=${nameTag}`, '--query', 'Reservations[].Instances[].State']);
      assert.deepEqual(states, [{ Code: 48, Name: 'terminated' }, { Code: 48, Name: 'terminated' }]);
    });

    it('aws ec2 wait instance-running on a terminated instance stops at once on the failure state (exit 255)', async () => {
      const started = Date.now();
      const r = await aws(['wait', 'instance-running', '--instance-ids', ids[0]!], 120_000);
      assert.equal(r.exitCode, 255, r.stderr);
      assert.match(r.stderr, /Waiter InstanceRunning failed: Waiter encountered a terminal failure state/);
      assert.ok(Date.now() - started < 30_000, 'no polling until MaxAttempts');
    });
  });

  describe('errors: exit code 254/255 and "(Code)" on stderr', () => {
    it('InvalidAMIID.NotFound for run-instances with an AMI that does not exist', async () => {
      await fails(['run-instances', '--image-id', 'ami-0123456789abcdef0', '--count', '1'], 'InvalidAMIID.NotFound');
    });

    it('InvalidParameterValue for run-instances with an instance type that does not exist', async () => {
      const r = await fails(['run-instances', '--image-id', imageId, '--instance-type', 't9.huge', '--count', '1'], 'InvalidParameterValue');
      assert.match(r.stderr, /t9\.huge/);
    });

    it('DryRunOperation for run-instances --dry-run, which launches nothing', async () => {
      const before = await ok(['describe-instances', '--query', 'Reservations[].Instances[].InstanceId']);
      await fails(['run-instances', '--image-id', imageId, '--count', '1', '--dry-run'], 'DryRunOperation');
      const after = await ok(['describe-instances', '--query', 'Reservations[].Instances[].InstanceId']);
      assert.deepEqual(after, before);
    });

    it('InvalidInstanceID.Malformed for terminate-instances with a malformed id', async () => {
      await fails(['terminate-instances', '--instance-ids', 'i-nothex'], 'InvalidInstanceID.Malformed');
    });

    it('IncorrectInstanceState for start-instances on a terminated instance', async () => {
      await fails(['start-instances', '--instance-ids', ids[0]!], 'IncorrectInstanceState');
    });

    it('InvalidKeyPair.Duplicate for importing a key pair name twice', async () => {
      const file = join(dir, 'again.pub');
      writeFileSync(file, ed25519PublicKey('again@cli').line + '\n');
      await fails(['import-key-pair', '--key-name', importedName, '--public-key-material', `fileb://${file}`], 'InvalidKeyPair.Duplicate');
      const d = await ok(['describe-key-pairs', '--key-names', importedName, '--query', 'KeyPairs[].KeyName']);
      assert.deepEqual(d, [importedName], 'the first import is still there, once');
    });

    it('InvalidKeyPair.NotFound for describe-key-pairs of a name that does not exist', async () => {
      const r = await fails(['describe-key-pairs', '--key-names', `no-such-key-${stamp}`], 'InvalidKeyPair.NotFound');
      assert.match(r.stderr, new RegExp(`no-such-key-${stamp}`));
    });
  });
});

describe('compat: AWS CLI, an instance on the libvirt backend', function () {
  this.timeout(420_000);
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'libvirt' },
    requires: async (ctx) => {
      await needClient(ctx, 'aws-cli', AWS, ['--version']);
      await needBackend(ctx, 'libvirt', () => new LibvirtComputeBackend().probe());
    },
    beforeClose: ({ ec2 }) => cleanUp(ec2),
  });
  let dir: string;
  let dataPath: string | undefined;
  const { ok, wait } = cliFor(() => t.url, () => dataPath);
  const marker = `cli-vm-user-data-${Date.now().toString(36)}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'thecloud-cli-vm-'));
    dataPath = await fastWaiters(join(dir, 'data'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('run-instances of the tiny VM, wait instance-running, its #! user data output reaches get-console-output, terminate, wait instance-terminated', async () => {
    const found = await ok(['describe-images', '--filters', 'Name=name,Values=thecloud-tiny-vm', '--query', 'Images[].ImageId']);
    assert.equal(found.length, 1, 'the built-in image thecloud-tiny-vm is registered');
    const r = await ok(['run-instances', '--image-id', found[0], '--instance-type', 't2.micro', '--count', '1', '--user-data', `#!/bin/sh\necho ${marker}\n`]);
    const id: string = r.Instances[0].InstanceId;
    assert.equal(r.Instances[0].State.Name, 'pending');
    await wait('instance-running', ['--instance-ids', id]);
    const text = await eventually('the user data marker on the serial console', async () => {
      const o = await ok(['get-console-output', '--instance-id', id, '--latest']);
      return typeof o.Output === 'string' && o.Output.includes(marker) ? (o.Output as string) : undefined;
    }, 120_000);
    assert.ok(text.includes(marker));
    const t = await ok(['terminate-instances', '--instance-ids', id]);
    assert.equal(t.TerminatingInstances[0].CurrentState.Name, 'shutting-down');
    await wait('instance-terminated', ['--instance-ids', id]);
    const state = await ok(['describe-instances', '--instance-ids', id, '--query', 'Reservations[0].Instances[0].State.Name']);
    assert.equal(state, 'terminated');
  });
});
