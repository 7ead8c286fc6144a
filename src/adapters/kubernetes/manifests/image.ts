/**
 * The plugin image, named in one place: `manifests/` are rendered from it, the Nomad jobs in
 * `jobs/` are checked against it (test/deploy), and scripts/image-config.sh reads it to tag
 * what `npm run image` builds. The tag is the package version.
 */
export const IMAGE_REPOSITORY = 'ghcr.io/nixmount/nixmount';

export function imageReference(version: string): string {
  return `${IMAGE_REPOSITORY}:${version}`;
}
