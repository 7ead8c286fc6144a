// The single-file binary's entry: set up the assets, then run the CLI as `node dist/src/cli.js` would.
import './sea-setup.mjs';
import '../../dist/src/cli.js';
