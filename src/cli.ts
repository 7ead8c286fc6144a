#!/usr/bin/env node

const USAGE = `usage: nixmount <command> [options]

  serve       run the CSI plugin on a unix socket (--mode node|controller|monolith, --endpoint, --node-id, --state-dir, --orchestrator …)
  publish     mount a closure at --target on this machine (--paths or --context key=value, --read-write)
  unpublish   unmount what publish mounted at --target
  gc          remove views no volume uses
  own-store   [--store-dir /nix/store] -- COMMAND…: on NixOS-style nodes, unmount the store's bind of itself in this mount namespace, then run COMMAND
  k8s         Kubernetes tools: "k8s manifests" renders the install manifests (--driver-name, --namespace, --image, --controller, --out)
  host-volume Nomad dynamic host volume plugin: fingerprint, create, delete (run by the Nomad client); "host-volume install --plugin-dir DIR" writes the plugin
  nomad       Nomad tools: \`nomad volume\` writes a volume spec, \`nomad check\` checks a jobspec`;

// A command that returns an argv hands over to that command (own-store wraps serve).
type Command = (argv: string[]) => Promise<void | string[]>;

// Loaded on demand: the HCL parser alone is ~50 MiB of memory that `serve` must not carry.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./cli/serve.js')).serve,
  publish: async () => (await import('./cli/local-volume.js')).publish,
  unpublish: async () => (await import('./cli/local-volume.js')).unpublish,
  gc: async () => (await import('./cli/local-volume.js')).gc,
  k8s: async () => (await import('./cli/k8s.js')).k8s,
  nomad: async () => (await import('./cli/nomad.js')).nomad,
  'host-volume': async () => (await import('./cli/host-volume.js')).hostVolume,
  'own-store': async () => (await import('./cli/own-store.js')).ownStore,
};

async function main(argv = process.argv.slice(2)): Promise<void> {
  const [command, ...rest] = argv;
  const load = command ? COMMANDS[command] : undefined;
  if (!load) {
    console.error(USAGE);
    process.exit(command && command !== 'help' && command !== '--help' ? 2 : 0);
  }
  const next = await (await load())(rest);
  if (next) await main(next);
}

main().catch((error: unknown) => {
  console.error(`nixmount: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
