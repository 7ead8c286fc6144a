export { mountOptionsAt, mountsBelow, unmountBelow } from '../../support/mounts.js';
