import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ManifestOptions } from '../adapters/kubernetes/manifests/options.js';
import { renderInstallStream, renderManifests } from '../adapters/kubernetes/manifests/render.js';
import type { ManifestsValues } from '../settings/command-values.js';

/** `nixmount k8s manifests`: the install objects on stdout, or with --out every file of manifests/. */
export async function manifests(values: ManifestsValues): Promise<void> {
  const { controller, out, kubernetesEvents, podStorePaths, cache, ...options } = values;
  const manifestOptions: ManifestOptions = options;
  if (!out) {
    process.stdout.write(renderInstallStream(manifestOptions, { controller, events: kubernetesEvents, podStorePaths, cache }));
    return;
  }
  for (const [path, text] of renderManifests(manifestOptions)) {
    const file = join(out, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, text);
  }
}
