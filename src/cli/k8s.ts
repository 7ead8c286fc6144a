import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultManifestOptions, type ManifestOptions } from '../adapters/kubernetes/manifests/options.js';
import { renderInstallStream, renderManifests } from '../adapters/kubernetes/manifests/render.js';
import { DEFAULT_DRIVER_NAME, packageVersion } from './options.js';

const USAGE = `usage: nixmount k8s manifests [options]

  Prints the objects that install the nixmount node plugin on a cluster
  (kubectl apply -f -), with --controller also those of the optional controller
  (StorageClasses, PVCs); or with --out DIR writes every file of manifests/
  (both kustomization.yaml files, controller/ and the examples) into DIR.

  --driver-name NAME         CSI driver name (default ${DEFAULT_DRIVER_NAME}; nix.csi.store replaces nix-csi)
  --namespace NAME           namespace of the node plugin (default nixmount)
  --image IMAGE              nixmount image
  --kubelet-dir DIR          kubelet's root directory on the nodes (default /var/lib/kubelet)
  --state-dir DIR            nixmount's state directory, below /nix (default /nix/var/nixmount)
  --registrar-image IMAGE    node-driver-registrar image
  --livenessprobe-image IMAGE livenessprobe image
  --provisioner-image IMAGE  external-provisioner image (controller)
  --controller               print the controller's objects too
  --out DIR                  write the files instead of printing`;

/** The manifests for the given flags; no environment is read, so the output is reproducible. */
export function manifestOptionsFrom(values: Partial<Record<string, string>>): ManifestOptions {
  const defaults = defaultManifestOptions(values['driver-name'] ?? DEFAULT_DRIVER_NAME, packageVersion());
  return {
    ...defaults,
    namespace: values.namespace ?? defaults.namespace,
    image: values.image ?? defaults.image,
    kubeletDir: values['kubelet-dir'] ?? defaults.kubeletDir,
    stateDir: values['state-dir'] ?? defaults.stateDir,
    registrarImage: values['registrar-image'] ?? defaults.registrarImage,
    livenessProbeImage: values['livenessprobe-image'] ?? defaults.livenessProbeImage,
    provisionerImage: values['provisioner-image'] ?? defaults.provisionerImage,
  };
}

async function manifests(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'driver-name': { type: 'string' },
      namespace: { type: 'string' },
      image: { type: 'string' },
      'kubelet-dir': { type: 'string' },
      'state-dir': { type: 'string' },
      'registrar-image': { type: 'string' },
      'livenessprobe-image': { type: 'string' },
      'provisioner-image': { type: 'string' },
      controller: { type: 'boolean' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const { controller, ...strings } = values;
  const options = manifestOptionsFrom(strings);
  if (!values.out) {
    process.stdout.write(renderInstallStream(options, controller ?? false));
    return;
  }
  for (const [path, text] of renderManifests(options)) {
    const file = join(values.out, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
}

export async function k8s(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'manifests') return manifests(rest);
  console.error(USAGE);
  process.exit(sub === undefined || sub === 'help' || sub === '--help' ? 0 : 2);
}
