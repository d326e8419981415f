// Root hooks for the whole mocha run: stop the shared embedded PostgreSQL at the end.
import { stopCluster } from './server.js';

// The JS SDK is pinned (package.json) to a version that runs on Node 20; its notice that later versions will
// need Node 22 is known, and printed once per test file it buried the test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const mochaHooks = {
  async afterAll() {
    await stopCluster();
  },
};
