/**
 * A Terraform working directory for a compat test: a config from compat/terraform/<name>, the AWS provider from
 * the machine's local mirror (never the registry), and apply / plan / destroy with the test's variables.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Context } from 'mocha';
import { needBackend } from '../test/support/backends.js';

export const PROVIDER_MIRROR = '/opt/tf-plugins';

/** Fails under CI=true, skips elsewhere, when terraform or the provider mirror is missing. */
export async function needTerraform(ctx: Context): Promise<void> {
  await needBackend(ctx, 'terraform', async () => {
    const tf = await execa('terraform', ['version'], { reject: false });
    if (tf.exitCode !== 0) return { ok: false, detail: 'terraform is not on this machine' };
    return existsSync(PROVIDER_MIRROR) ? { ok: true, detail: tf.stdout.split('\n')[0]! } : { ok: false, detail: `no provider mirror at ${PROVIDER_MIRROR}` };
  });
}

export interface TfResult {
  exitCode: number;
  output: string;
}

export class TerraformWorkspace {
  readonly dir: string;
  private readonly env: Record<string, string>;

  /** Copies compat/terraform/<config>/*.tf (or the single main.tf for 'main'). */
  constructor(configFile: string, private readonly vars: Record<string, string>) {
    this.dir = mkdtempSync(join(tmpdir(), 'thecloud-tf-'));
    cpSync(configFile, join(this.dir, 'main.tf'));
    writeFileSync(join(this.dir, 'terraformrc'), `provider_installation {\n  filesystem_mirror {\n    path = "${PROVIDER_MIRROR}"\n    include = ["registry.terraform.io/*/*"]\n  }\n  direct { exclude = ["registry.terraform.io/*/*"] }\n}\n`);
    this.env = { TF_CLI_CONFIG_FILE: join(this.dir, 'terraformrc'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  }

  private async tf(args: string[], withVars = true): Promise<TfResult> {
    const varArgs = withVars ? Object.entries(this.vars).flatMap(([k, v]) => ['-var', `${k}=${v}`]) : [];
    const r = await execa('terraform', [...args, '-input=false', '-no-color', ...varArgs], { cwd: this.dir, env: this.env, reject: false });
    return { exitCode: r.exitCode ?? -1, output: r.stdout + r.stderr };
  }

  init(): Promise<TfResult> {
    return this.tf(['init'], false);
  }
  apply(): Promise<TfResult> {
    return this.tf(['apply', '-auto-approve']);
  }
  /** `plan -detailed-exitcode`: 0 no changes, 2 changes. */
  plan(): Promise<TfResult> {
    return this.tf(['plan', '-detailed-exitcode']);
  }
  destroy(): Promise<TfResult> {
    return this.tf(['destroy', '-auto-approve']);
  }
  async outputs(): Promise<Record<string, { value: unknown }>> {
    return JSON.parse((await execa('terraform', ['output', '-json'], { cwd: this.dir, env: this.env })).stdout);
  }
  /** The managed resources left in the state. */
  managedResources(): number {
    const state = JSON.parse(readFileSync(join(this.dir, 'terraform.tfstate'), 'utf8')) as { resources: { mode: string }[] };
    return state.resources.filter((r) => r.mode === 'managed').length;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
