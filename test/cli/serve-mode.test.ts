import test from 'ava';
import { execa } from 'execa';
import { NIXMOUNT_CLI as CLI } from '../../support/serve-process.js';

test('serve --mode refuses anything but node, controller or monolith, naming the flag', async (t) => {
  const result = await execa('node', [CLI, 'serve', '--mode', 'both', '--endpoint', 'unix:///nonexistent/x.sock'], { reject: false });
  // A bad value is a usage error (exit 2), like an unknown flag; 1 is a command that failed.
  t.is(result.exitCode, 2);
  t.regex(result.stderr, /--mode: "both" is not one of node, controller, monolith/);
});
