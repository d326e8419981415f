/**
 * Polling for what a user would wait for: a reply, a boot line, a state. One helper for every test (it was copied
 * into eight files with small differences in order of arguments, interval and error handling).
 *
 * `f` answers `undefined` or `false` for "not yet"; anything else is the result. An error thrown by `f` counts as
 * "not yet" too (a probe into a container that is still starting fails before it answers), and the last one is
 * named when time runs out.
 */
export async function eventually<T>(
  what: string,
  f: () => Promise<T | undefined | false>,
  ms = 30_000,
  everyMs = 300,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`${what}: did not happen within ${ms} ms${last === undefined ? '' : ` (last error: ${String(last)})`}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
