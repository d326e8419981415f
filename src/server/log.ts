/** A small structured logger: one JSON line per event on stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Logger = Record<Level, (msg: string, extra?: Record<string, unknown>) => void>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(min: Level = 'info', sink: (line: string) => void = (l) => process.stderr.write(l + '\n')): Logger {
  const make = (level: Level) => (msg: string, extra?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[min]) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...extra }));
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
