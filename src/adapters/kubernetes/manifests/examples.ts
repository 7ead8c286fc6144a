import { noted, type ManifestFile } from './manifest-file.js';
import type { ManifestOptions } from './options.js';

/**
 * Placeholders: a store path your nodes' substituters serve (e.g. the output of
 * `nix build nixpkgs#hello --print-out-paths` pushed to your cache). The all-zero
 * hash is obviously not a real build.
 */
export const EXAMPLE_HELLO = '/nix/store/00000000000000000000000000000000-hello-2.12.1';
export const EXAMPLE_HELLO_AARCH64 = '/nix/store/11111111111111111111111111111111-hello-2.12.1';

const REPLACE = 'Replace the store path with one your nodes\' substituters serve.';

function nixVolume(driverName: string, readOnly: boolean, volumeAttributes: Record<string, string>): Record<string, unknown> {
  return { name: 'nix', csi: { driver: driverName, readOnly, volumeAttributes } };
}

export function exampleFiles(options: ManifestOptions): ManifestFile[] {
  return [
    {
      path: 'examples/pod-readonly.yaml',
      header: ['A read-only /nix holding one closure, shared (one view, page cache included) by every pod', 'on the node that asks for it.', REPLACE],
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nix-readonly' },
        spec: {
          containers: [
            {
              name: 'shell',
              image: 'busybox:1.36',
              command: ['sh', '-c', 'ls /nix/store && /nix/var/result/bin/hello && sleep 3600'],
              volumeMounts: [{ name: 'nix', mountPath: '/nix', readOnly: true }],
            },
          ],
          volumes: [
            nixVolume(options.driverName, true, {
              paths: noted('One or more store paths, separated by spaces or newlines; their closure is mounted.', EXAMPLE_HELLO),
            }),
          ],
        },
      },
    },
    {
      path: 'examples/pod-readwrite.yaml',
      header: [
        'A writable /nix: an overlay over the closure\'s view, private to this pod and dropped with it.',
        'Store paths per system (nix-csi\'s keys): the node\'s own system is used.',
        REPLACE,
      ],
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nix-readwrite' },
        spec: {
          containers: [
            {
              name: 'shell',
              image: 'busybox:1.36',
              command: ['sh', '-c', 'echo scratch > /nix/var/scratch && cat /nix/var/scratch && sleep 3600'],
              volumeMounts: [{ name: 'nix', mountPath: '/nix' }],
            },
          ],
          volumes: [nixVolume(options.driverName, false, { 'x86_64-linux': EXAMPLE_HELLO, 'aarch64-linux': EXAMPLE_HELLO_AARCH64 })],
        },
      },
    },
    {
      path: 'examples/pod-program.yaml',
      header: [
        'A program from the volume in an image with nothing in it: the closure brings its own',
        'libraries, and /nix/var/result points at the requested store path.',
        REPLACE,
      ],
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'nix-hello' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'hello',
              image: 'gcr.io/distroless/static-debian12:nonroot',
              command: ['/nix/var/result/bin/hello'],
              volumeMounts: [{ name: 'nix', mountPath: '/nix', readOnly: true }],
            },
          ],
          volumes: [nixVolume(options.driverName, true, { paths: EXAMPLE_HELLO })],
        },
      },
    },
  ];
}
