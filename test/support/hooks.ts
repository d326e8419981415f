// Root hooks for the whole mocha run: stop the shared embedded PostgreSQL at the end.
import { stopCluster } from './server.js';

export const mochaHooks = {
  async afterAll() {
    await stopCluster();
  },
};
