export { CsiClient, mountCapability } from '../../src/csi/csi-client.js';
