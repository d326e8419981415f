import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
const big: Buffer[] = []; for (let i = 0; i < 20; i++) big.push(Buffer.alloc(10e6, 1)); // ~200 MB like a server
const N = 30;
let t0 = performance.now();
for (let i = 0; i < N; i++) await execa('/bin/true', []);
console.log('execa true', ((performance.now() - t0) / N).toFixed(1));
t0 = performance.now();
for (let i = 0; i < N; i++) await new Promise((r) => spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', r));
console.log('spawn true', ((performance.now() - t0) / N).toFixed(1));
t0 = performance.now();
for (let i = 0; i < N; i++) await execa('ip', ['-V']);
console.log('execa ip -V', ((performance.now() - t0) / N).toFixed(1));
t0 = performance.now();
for (let i = 0; i < N; i++) await execa('ovs-vsctl', ['--timeout=20', '--format=json', '--columns=name,ofport,external_ids', 'list', 'Interface']);
console.log('execa vsctl list', ((performance.now() - t0) / N).toFixed(1));
console.log(process.memoryUsage().rss / 1e6);
