/**
 * A small structured logger: one JSON line per event on stderr. Errors handed to it (as `error`, or any Error
 * value) are written as text by errorText: an error without a message still says what it is.
 */
import { errorText } from '../errors/text.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Logger = Record<Level, (msg: string, extra?: Record<string, unknown>) => void>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function clean(extra: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!extra) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra)) {
    if (v instanceof Error || (k === 'error' && typeof v !== 'string')) out[k] = errorText(v);
    else if (v !== undefined) out[k] = v;
  }
  return out;
}

export function createLogger(min: Level = 'info', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const make = (level: Level) => (msg: string, extra?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[min]) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...clean(extra) }));
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
