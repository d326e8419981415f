/**
 * What to say about a thrown value in a log line or a message. Never "undefined": an Error without a message
 * is named by its type and stack, a rejection without a reason says so, and a cause is followed.
 */
export function errorText(e: unknown, opts: { stack?: boolean } = {}): string {
  if (e instanceof Error) {
    const type = e.name || e.constructor?.name || 'Error';
    const message = typeof e.message === 'string' ? e.message.trim() : '';
    let text = message ? (type === 'Error' ? message : `${type}: ${message}`) : `${type} (without a message)`;
    if (!message || opts.stack) {
      const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
      if (frames.length) text += `\n${frames.join('\n')}`;
    }
    if (e.cause !== undefined && e.cause !== e) {
      const cause = errorText(e.cause);
      if (!text.includes(cause.split('\n')[0]!)) text += `\ncaused by: ${cause}`;
    }
    return text;
  }
  if (e === undefined) return 'a failure without a reason (nothing was thrown with it)';
  if (e === null) return 'a failure without a reason (null was thrown)';
  if (typeof e === 'string') return e.trim() || 'an empty string was thrown';
  if (typeof e === 'object') {
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string' && m.trim()) return m.trim();
    try {
      return `${Object.prototype.toString.call(e)} ${JSON.stringify(e)}`;
    } catch {
      return Object.prototype.toString.call(e);
    }
  }
  return `${typeof e} ${String(e)} was thrown`;
}
