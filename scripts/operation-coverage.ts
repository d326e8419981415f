/**
 * How much of the EC2 API the server implements: the operations of the service model
 * (src/protocol/generated/ec2-model.json) against the handlers registered in src/api/index.ts.
 *
 *   npm run coverage:ops              summary line, then the implemented operations
 *   npm run coverage:ops -- --missing summary line, then the operations not implemented yet
 *   npm run coverage:ops -- --json    {"implemented": [...], "missing": [...], "total": N, "unknown": [...]}
 *
 * Exits 1 when a registered handler names an operation the model does not have.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { model } from '../src/protocol/model.js';
import { buildRegistry } from '../src/api/index.js';

export interface Coverage {
  total: number;
  implemented: string[];
  missing: string[];
  /** Registered operations that the model does not define (a typo or a stale model). */
  unknown: string[];
}

export function operationCoverage(): Coverage {
  const all = Object.keys(model.operations).sort();
  const registered = new Set(buildRegistry().operations());
  return {
    total: all.length,
    implemented: all.filter((op) => registered.has(op)),
    missing: all.filter((op) => !registered.has(op)),
    unknown: [...registered].filter((op) => !(op in model.operations)).sort(),
  };
}

export function summary(c: Coverage): string {
  const pct = c.total ? (100 * c.implemented.length) / c.total : 0;
  return `implemented ${c.implemented.length} of ${c.total} EC2 operations (${pct.toFixed(1)}%)`;
}

export function report(c: Coverage, argv: string[]): string {
  if (argv.includes('--json')) return JSON.stringify(c, null, 2) + '\n';
  const missing = argv.includes('--missing');
  const list = missing ? c.missing : c.implemented;
  const heading = missing ? `not implemented (${list.length}):` : 'implemented:';
  return [summary(c), heading, ...list.map((op) => `  ${op}`)].join('\n') + '\n';
}

function main(argv: string[]): number {
  const c = operationCoverage();
  // A reader that stops early (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  process.stdout.write(report(c, argv));
  if (c.unknown.length) {
    process.stderr.write(`handlers for operations the model does not define: ${c.unknown.join(', ')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
