import { instanceSuite } from './suite.js';

instanceSuite({ backend: 'noop', imageName: 'thecloud-noop', runsUserData: false, waitSeconds: 20 });
