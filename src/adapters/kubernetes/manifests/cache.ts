import { noted, type ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/*
 * The optional cluster binary cache (manifests/cache/): a kustomize Component with an
 * nginx whose WebDAV module stores what `nix copy --to http://…` PUTs, its volume, its
 * Service, and a patch wiring the node plugin to it (substitute from it first, push to
 * it, sign with the cluster's key, trust that key). nixmount ships no cache server:
 * Nix's HTTP binary cache protocol is plain GET and PUT.
 */

export const CACHE_DIR = 'cache';
export const CACHE_NAME = 'nixmount-cache';
export const CACHE_PORT = 8080;
/** Official nginx image: built with ngx_http_dav_module, workers run as `nginx` (uid 101). */
export const NGINX_IMAGE = 'docker.io/library/nginx:1.27';
/** The Secret the operator creates from `nix-store --generate-binary-cache-key` (keys `secret` and `public`). */
export const CACHE_KEY_SECRET = 'nixmount-cache-key';
/** Where the node plugin container alone sees the secret key. */
export const CACHE_KEY_DIR = '/etc/nixmount/cache-key';
/** The upstream cache nodes fall back to, with its published key (the nix.conf default of every Nix install). */
export const UPSTREAM_CACHE = 'https://cache.nixos.org';
export const UPSTREAM_KEY = 'cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=';
/** The PVC's data directory: the cache's files, and nginx's temp files for request bodies on the same filesystem. */
export const CACHE_DATA_DIR = '/var/cache/nixmount';
export const CACHE_ROOT = `${CACHE_DATA_DIR}/store`;
/** Below cache.nixos.org's 40: Nix orders substituters by this priority, not by their place in the list. */
export const CACHE_PRIORITY = 30;

/** The components of manifests/cache/ that `kubectl apply -k` of an overlay with it adds (the patch changes daemonset.yaml). */
export const CACHE_INSTALL_FILES = [`${CACHE_DIR}/configmap.yaml`, `${CACHE_DIR}/pvc.yaml`, `${CACHE_DIR}/deployment.yaml`, `${CACHE_DIR}/service.yaml`] as const;

const labels = () => commonLabels('cache');
const at = (path: string) => `${CACHE_DIR}/${path}`;

/** The cache's URL as the node plugin pods reach it (cluster DNS). */
export function cacheUrl(options: ManifestOptions): string {
  return `http://${CACHE_NAME}.${options.namespace}.svc:${CACHE_PORT}`;
}

/**
 * The whole nginx.conf. PUT is the only write Nix needs (it never deletes); bodies are
 * NARs as large as store paths, so no size limit, and their temp files sit on the
 * cache's own volume, not in the container's filesystem. /healthz answers before the
 * first push, when nix-cache-info may not exist.
 */
export function nginxConfig(): string {
  return `user nginx;
worker_processes auto;
error_log /dev/stderr warn;
pid /tmp/nginx.pid;
events { worker_connections 1024; }
http {
  access_log /dev/stdout;
  sendfile on;
  client_max_body_size 0;
  client_body_temp_path ${CACHE_DATA_DIR}/tmp;
  server {
    listen ${CACHE_PORT};
    root ${CACHE_ROOT};
    location = /healthz {
      access_log off;
      return 200 "ok\\n";
    }
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
`;
}

/** What the init container writes when the volume has no nix-cache-info yet. */
export function nixCacheInfo(): string {
  return `StoreDir: /nix/store\nWantMassQuery: 1\nPriority: ${CACHE_PRIORITY}\n`;
}

function kustomization(): ManifestFile {
  return {
    path: at('kustomization.yaml'),
    header: [
      'A cluster binary cache (docs/caches.md, "A cluster cache on Kubernetes"). A kustomize Component:',
      'list it under `components:` of a kustomization that has manifests/ as a resource, after creating',
      `the signing key Secret ${CACHE_KEY_SECRET} (see daemonset-patch.yaml).`,
    ],
    object: {
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      resources: CACHE_INSTALL_FILES.map((path) => path.slice(CACHE_DIR.length + 1)),
      patches: [{ path: 'daemonset-patch.yaml', target: { group: 'apps', version: 'v1', kind: 'DaemonSet', name: 'nixmount-node' } }],
    },
  };
}

function configMap(options: ManifestOptions): ManifestFile {
  return {
    path: at('configmap.yaml'),
    header: ['nginx as a Nix binary cache: GET for substituters, PUT for `nix copy --to`.'],
    object: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${CACHE_NAME}-nginx`, namespace: options.namespace, labels: labels() },
      data: { 'nginx.conf': nginxConfig(), 'nix-cache-info': nixCacheInfo() },
    },
  };
}

function persistentVolumeClaim(options: ManifestOptions): ManifestFile {
  return {
    path: at('pvc.yaml'),
    header: ['The cache\'s files. Size it for the closures the cluster runs; the cluster\'s default StorageClass provides it.'],
    object: {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: CACHE_NAME, namespace: options.namespace, labels: labels() },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '50Gi' } } },
    },
  };
}

function deployment(options: ManifestOptions): ManifestFile {
  const config = { name: 'config', mountPath: '/etc/nixmount-cache', readOnly: true };
  return {
    path: at('deployment.yaml'),
    header: ['One nginx serving the cache volume. A restart costs nodes a substitute, never a volume: they fall back to the next cache or build.'],
    object: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: CACHE_NAME, namespace: options.namespace, labels: labels() },
      spec: {
        replicas: 1,
        strategy: noted('The volume is ReadWriteOnce: the old pod must let go of it before the new one starts.', { type: 'Recreate' }),
        selector: { matchLabels: labels() },
        template: {
          metadata: { labels: labels() },
          spec: {
            automountServiceAccountToken: noted('nginx calls no API.', false),
            initContainers: [
              noted(
                'nginx creates the directories below the root on PUT, not the root itself; the cache\'s priority\nin nix-cache-info puts it before cache.nixos.org whatever order nodes list them in.',
                {
                  name: 'prepare',
                  image: NGINX_IMAGE,
                  command: ['sh', '-c', `mkdir -p ${CACHE_ROOT} && { [ -e ${CACHE_ROOT}/nix-cache-info ] || cp /etc/nixmount-cache/nix-cache-info ${CACHE_ROOT}/; } && chown nginx:nginx ${CACHE_ROOT} ${CACHE_ROOT}/nix-cache-info`],
                  resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
                  volumeMounts: [{ name: 'data', mountPath: CACHE_DATA_DIR }, config],
                },
              ),
            ],
            containers: [
              {
                name: 'nginx',
                image: NGINX_IMAGE,
                args: ['nginx', '-c', '/etc/nixmount-cache/nginx.conf', '-g', 'daemon off;'],
                ports: [{ name: 'http', containerPort: CACHE_PORT, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 5 },
                livenessProbe: noted(
                  'nginx answers /healthz from its event loop while uploads stream to disk: a large push never\nmakes it miss a probe. Generous limits all the same: a restart cuts the pushes in flight (nodes push them again later).',
                  { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 20, timeoutSeconds: 10, failureThreshold: 6 },
                ),
                resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '512Mi' } },
                volumeMounts: [{ name: 'data', mountPath: CACHE_DATA_DIR }, config],
              },
            ],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: CACHE_NAME } },
              { name: 'config', configMap: { name: `${CACHE_NAME}-nginx` } },
            ],
          },
        },
      },
    },
  };
}

function service(options: ManifestOptions): ManifestFile {
  return {
    path: at('service.yaml'),
    header: [`The address nodes substitute from and push to: ${cacheUrl(options)}.`],
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: CACHE_NAME, namespace: options.namespace, labels: labels() },
      spec: { selector: labels(), ports: [{ name: 'http', port: CACHE_PORT, targetPort: 'http', protocol: 'TCP' }] },
    },
  };
}

/** The node plugin's serve flags that use the cache; `$(CACHE_PUBLIC_KEY)` is expanded by kubelet from the container's env. */
export function cacheServeArgs(options: ManifestOptions): string[] {
  const url = cacheUrl(options);
  return [
    `--substituters=${url} ${UPSTREAM_CACHE}`,
    `--trusted-public-keys=$(CACHE_PUBLIC_KEY) ${UPSTREAM_KEY}`,
    `--push-to=${url}`,
    `--push-key-file=${CACHE_KEY_DIR}/secret`,
  ];
}

/** A JSON patch (RFC 6902) of the DaemonSet: containers/0 is the nixmount container, the only one that gets the key. */
function daemonSetPatch(options: ManifestOptions): ManifestFile {
  const plugin = '/spec/template/spec/containers/0';
  const patch = [
    noted('The secret key only (mode 0400): the public one comes from the same Secret as a variable.', {
      op: 'add',
      path: '/spec/template/spec/volumes/-',
      value: { name: 'cache-key', secret: { secretName: CACHE_KEY_SECRET, items: [{ key: 'secret', path: 'secret' }], defaultMode: 0o400 } },
    }),
    { op: 'add', path: `${plugin}/volumeMounts/-`, value: { name: 'cache-key', mountPath: CACHE_KEY_DIR, readOnly: true } },
    { op: 'add', path: `${plugin}/env/-`, value: { name: 'CACHE_PUBLIC_KEY', valueFrom: { secretKeyRef: { name: CACHE_KEY_SECRET, key: 'public' } } } },
    ...cacheServeArgs(options).map((arg) => ({ op: 'add', path: `${plugin}/args/-`, value: arg })),
  ];
  return {
    path: at('daemonset-patch.yaml'),
    header: [
      'The node plugin substitutes from the cluster cache first, pushes what it realises there, signed with',
      'the cluster key, and accepts only what that key (or cache.nixos.org\'s) signed. Create the key first:',
      '  nix-store --generate-binary-cache-key nixmount-cluster-1 secret public',
      `  kubectl -n ${options.namespace} create secret generic ${CACHE_KEY_SECRET} --from-file=secret --from-file=public`,
    ],
    object: patch as unknown as Record<string, unknown>,
  };
}

/** The files of manifests/cache/. */
export function cacheFiles(options: ManifestOptions): ManifestFile[] {
  return [kustomization(), configMap(options), persistentVolumeClaim(options), deployment(options), service(options), daemonSetPatch(options)];
}
