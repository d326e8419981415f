/**
 * boto3 sharing an image between two accounts, as a user scripts it: register_image, then
 * modify_image_attribute (LaunchPermission Add, then the OperationType/UserIds form to remove),
 * describe_image_attribute, describe_images(ExecutableUsers, Owners) and run_instances by the other account
 * at each step. Through compat/python/calls.py against a noop server. Skipped without boto3.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SECOND_ACCOUNT } from '../test/support/server.js';
import { useTestServer } from '../test/support/use-server.js';
import { awsClientEnv, runs, needClient } from './support.js';

const PYTHON = process.env.PYTHON ?? 'python3';
const DIR = fileURLToPath(new URL('./python/', import.meta.url));
const OWNER = '000000000000';
const OTHER: [string, string] = [SECOND_ACCOUNT.accessKeyId, SECOND_ACCOUNT.secretAccessKey];

interface Outcome {
  ok: boolean;
  status: number;
  code?: string;
  message?: string;
  result?: any;
}

async function calls(url: string, batch: { id: string; op: string; params?: unknown; creds?: [string, string] }[]): Promise<Record<string, Outcome>> {
  const r = await execa(PYTHON, ['calls.py', url], {
    cwd: DIR,
    env: awsClientEnv({ PYTHONDONTWRITEBYTECODE: '1' }),
    extendEnv: false,
    reject: false,
    timeout: 90_000,
    input: JSON.stringify(batch),
  });
  assert.equal(r.exitCode, 0, `calls.py exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return JSON.parse(String(r.stdout));
}

describe('compat: boto3 shares an image between two accounts', function () {
  let out: Record<string, Outcome>;
  let imageId: string;

  const t = useTestServer({ requires: (ctx) => needClient(ctx, 'boto3', PYTHON, ['-c', 'import boto3']) });
  before(async () => {
    const reg = await calls(t.url, [{ id: 'register', op: 'register_image', params: { Name: 'compat-share', ImageLocation: 'noop:compat-share' } }]);
    assert.ok(reg.register!.ok, reg.register!.message);
    imageId = reg.register!.result.ImageId;
    const run = { op: 'run_instances', params: { ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }, creds: OTHER };
    const mine = { op: 'describe_images', params: { ExecutableUsers: ['self'] }, creds: OTHER };
    out = await calls(t.url, [
      { id: 'private: describe_images', ...mine },
      { id: 'private: run_instances', ...run },
      { id: 'share', op: 'modify_image_attribute', params: { ImageId: imageId, LaunchPermission: { Add: [{ UserId: SECOND_ACCOUNT.accountId }] } } },
      { id: 'shared: describe_image_attribute', op: 'describe_image_attribute', params: { ImageId: imageId, Attribute: 'launchPermission' } },
      { id: 'shared: describe_image_attribute by the other', op: 'describe_image_attribute', params: { ImageId: imageId, Attribute: 'launchPermission' }, creds: OTHER },
      { id: 'shared: describe_images', ...mine },
      { id: 'shared: describe_images by owner', op: 'describe_images', params: { Owners: [OWNER] }, creds: OTHER },
      { id: 'shared: run_instances', ...run },
      { id: 'revoke', op: 'modify_image_attribute', params: { ImageId: imageId, Attribute: 'launchPermission', OperationType: 'remove', UserIds: [SECOND_ACCOUNT.accountId] } },
      { id: 'revoked: describe_images', ...mine },
      { id: 'revoked: describe_images by id', op: 'describe_images', params: { ImageIds: [imageId] }, creds: OTHER },
      { id: 'revoked: run_instances', ...run },
    ]);
  });

  const ok = (id: string) => {
    const o = out[id]!;
    assert.ok(o.ok, `${id}: ${o.code}: ${o.message}`);
    assert.equal(o.status, 200);
    return o.result;
  };
  const failed = (id: string, code: string) => {
    const o = out[id]!;
    assert.equal(o.ok, false, `${id} succeeded`);
    assert.deepEqual([o.code, o.status], [code, 400], `${id}: ${o.message}`);
    return o.message!;
  };

  it('private: the other account finds nothing and may not launch it (AuthFailure)', () => {
    assert.deepEqual(ok('private: describe_images').Images, []);
    assert.match(failed('private: run_instances', 'AuthFailure'), new RegExp(`Not authorized for images: \\[${imageId}\\]`));
  });

  it('shared: the owner lists the account; the other account finds the image by ExecutableUsers and Owners and launches it', () => {
    ok('share');
    assert.deepEqual(ok('shared: describe_image_attribute').LaunchPermissions, [{ UserId: SECOND_ACCOUNT.accountId }]);
    failed('shared: describe_image_attribute by the other', 'AuthFailure');
    assert.deepEqual(ok('shared: describe_images').Images.map((i: any) => [i.ImageId, i.OwnerId, i.Public]), [[imageId, OWNER, false]]);
    assert.deepEqual(ok('shared: describe_images by owner').Images.map((i: any) => i.ImageId), [imageId]);
    assert.equal(ok('shared: run_instances').Instances[0].ImageId, imageId);
  });

  it('revoked: gone for the other account again', () => {
    ok('revoke');
    assert.deepEqual(ok('revoked: describe_images').Images, []);
    failed('revoked: describe_images by id', 'InvalidAMIID.NotFound');
    failed('revoked: run_instances', 'AuthFailure');
  });
});
