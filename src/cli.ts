#!/usr/bin/env node
import { k8s } from './cli/k8s.js';
import { gc, publish, unpublish } from './cli/local-volume.js';
import { nomad } from './cli/nomad.js';
import { serve } from './cli/serve.js';

const USAGE = `usage: nixmount <command> [options]

  serve       run the CSI plugin on a unix socket (--mode node|controller|monolith, --endpoint, --node-id, --state-dir, --orchestrator …)
  publish     mount a closure at --target on this machine (--paths or --context key=value, --read-write)
  unpublish   unmount what publish mounted at --target
  gc          remove views no volume uses
  k8s         Kubernetes tools: "k8s manifests" renders the install manifests (--driver-name, --namespace, --image, --controller, --out)
  nomad       Nomad tools: \`nomad volume\` writes a volume spec, \`nomad check\` checks a jobspec`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = { serve, publish, unpublish, gc, k8s, nomad };

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const run = command ? COMMANDS[command] : undefined;
  if (!run) {
    console.error(USAGE);
    process.exit(command && command !== 'help' && command !== '--help' ? 2 : 0);
  }
  await run(rest);
}

main().catch((error: unknown) => {
  console.error(`nixmount: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
