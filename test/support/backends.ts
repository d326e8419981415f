/**
 * Tests that need a real backend (Docker, libvirt, OVS, LVM) call `needBackend` in a `before` hook.
 * Where the backend is missing they skip on a developer's machine, but in CI (CI=true), where every real
 * backend is installed by .ci/run, a missing backend is a failure, never a silent skip.
 */
export async function needBackend(
  ctx: Mocha.Context,
  name: string,
  probe: () => Promise<{ ok: boolean; detail: string }>,
): Promise<void> {
  const result = await probe().catch((e: unknown) => ({ ok: false, detail: String(e) }));
  if (result.ok) return;
  if (process.env.CI === 'true') {
    throw new Error(`backend ${name} is required in CI but is not reachable: ${result.detail}`);
  }
  console.log(`      (skipping: backend ${name} not reachable: ${result.detail})`);
  ctx.skip();
}
