import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { imageReference } from '../../src/adapters/kubernetes/manifests/image.js';
import { blocks, labelledBlocks, parseHcl } from '../../src/adapters/nomad/tooling/hcl.js';
import { packageVersion } from '../../src/settings/version.js';
import { REPO } from './nixos-node.js';

// One image name and tag (manifests/image.ts + package.json's version): what the manifests
// and jobs run is what `npm run image` tags.
const IMAGE = imageReference(packageVersion());

async function jobImages(file: string): Promise<string[]> {
  const body = parseHcl(await readFile(join(REPO, 'jobs', file), 'utf8'), file);
  const [[, job]] = labelledBlocks(body, 'job') as [[string, Record<string, unknown>]];
  return labelledBlocks(job, 'group').flatMap(([, group]) =>
    labelledBlocks(group, 'task').flatMap(([, task]) => blocks(task, 'config').map((config) => config.image as string)),
  );
}

test('the Nomad jobs, the manifests and scripts/image-config.sh name the same image', async (t) => {
  t.deepEqual(await jobImages('nixmount.nomad.hcl'), [IMAGE]);
  t.deepEqual(await jobImages('nixmount-controller.nomad.hcl'), [IMAGE]);
  const daemonSet = parse(await readFile(join(REPO, 'manifests/daemonset.yaml'), 'utf8'));
  t.is(daemonSet.spec.template.spec.containers[0].image, IMAGE);
  const deployment = parse(await readFile(join(REPO, 'manifests/controller/deployment.yaml'), 'utf8'));
  t.true(deployment.spec.template.spec.containers.some((c: { image: string }) => c.image === IMAGE));
  const { stdout } = await execa('bash', ['-c', `. ${join(REPO, 'scripts/image-config.sh')} && echo "$IMAGE"`]);
  t.is(stdout, IMAGE);
});
