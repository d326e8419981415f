/**
 * `npm run coverage:ops` (scripts/operation-coverage.ts) tells the truth about the registry and the model.
 *
 * The numbers are compared with the registry in this process, through the functions the script runs; the
 * script itself is then run as a command and each of its outputs checked on its own (not against this
 * process's registry, which was loaded when the run started and may be older than src/ by then).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { buildRegistry } from '../src/api/index.js';
import { model } from '../src/protocol/model.js';
import { operationCoverage, report } from '../scripts/operation-coverage.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_OPS = Object.keys(model.operations).sort();
const HEADER = /^implemented (\d+) of (\d+) EC2 operations \((\d+\.\d)%\)$/;

async function run(...args: string[]): Promise<string> {
  const r = await execa('npx', ['tsx', 'scripts/operation-coverage.ts', ...args], { cwd: ROOT, reject: false });
  assert.equal(r.exitCode, 0, String(r.stderr));
  return String(r.stdout);
}

const listed = (out: string) => out.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());

describe('compat: operation coverage report', () => {
  it('counts the registry against the model: "implemented N of M EC2 operations (P%)", then the list', () => {
    const registered = buildRegistry().operations();
    const lines = report(operationCoverage(), []).trimEnd().split('\n');
    const pct = ((100 * registered.length) / MODEL_OPS.length).toFixed(1);
    assert.equal(lines[0], `implemented ${registered.length} of ${MODEL_OPS.length} EC2 operations (${pct}%)`);
    assert.deepEqual(listed(lines.join('\n')), [...registered].sort());
    assert.ok(MODEL_OPS.length > 700, `the model has all of EC2 (${MODEL_OPS.length} operations)`);
    assert.deepEqual(operationCoverage().unknown, [], 'every handler names an operation of the model');
  });

  it('as a command: the header, then exactly the N implemented operations', async () => {
    const out = await run();
    const [, n, m, pct] = HEADER.exec(out.split('\n')[0]!) ?? assert.fail(`header: ${out.split('\n')[0]}`);
    assert.equal(Number(m), MODEL_OPS.length);
    assert.equal(pct, ((100 * Number(n)) / Number(m)).toFixed(1));
    const ops = listed(out);
    assert.equal(ops.length, Number(n));
    assert.ok(ops.includes('DescribeVpcs') && ops.every((op) => MODEL_OPS.includes(op)));
  });

  it('--missing: the same header, then exactly the M - N operations not implemented', async () => {
    const out = await run('--missing');
    const [, n, m] = HEADER.exec(out.split('\n')[0]!) ?? assert.fail(`header: ${out.split('\n')[0]}`);
    const ops = listed(out);
    assert.equal(ops.length, Number(m) - Number(n));
    assert.ok(!ops.includes('DescribeVpcs') && ops.every((op) => MODEL_OPS.includes(op)));
  });

  it('--json: implemented and missing split the model, nothing unknown', async () => {
    const c = JSON.parse(await run('--json'));
    assert.equal(c.total, MODEL_OPS.length);
    assert.deepEqual([...c.implemented, ...c.missing].sort(), MODEL_OPS);
    assert.deepEqual(c.unknown, []);
  });
});
