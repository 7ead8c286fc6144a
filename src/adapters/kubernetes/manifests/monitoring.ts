import { METRICS_PORT } from './daemonset.js';
import { noted, type ManifestFile } from './manifest-file.js';
import { commonLabels, type ManifestOptions } from './options.js';

/*
 * How Prometheus finds each node plugin's /metrics: a headless Service (installed with the
 * driver; any Prometheus discovers its endpoints), and a PodMonitor for the Prometheus
 * Operator in its own kustomize component (manifests/monitoring/), since clusters without
 * the operator have no PodMonitor kind to apply.
 */

export const MONITORING_DIR = 'monitoring';

export function metricsServiceFile(options: ManifestOptions): ManifestFile {
  return {
    path: 'metrics-service.yaml',
    header: [
      'One DNS record and one endpoint per node plugin pod, on its `metrics` port, for Prometheus',
      '(kubernetes_sd_configs role endpoints, or a ServiceMonitor). Headless: each node is scraped',
      'on its own, never through a load-balanced address.',
    ],
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'nixmount-node-metrics', namespace: options.namespace, labels: commonLabels('node-plugin') },
      spec: {
        clusterIP: 'None',
        selector: commonLabels('node-plugin'),
        ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
      },
    },
  };
}

export function monitoringFiles(options: ManifestOptions): ManifestFile[] {
  return [
    {
      path: `${MONITORING_DIR}/kustomization.yaml`,
      header: [
        'Optional, for clusters running the Prometheus Operator: add to your kustomization',
        '  components: [<path to manifests>/monitoring]',
        'or apply monitoring/podmonitor.yaml alone.',
      ],
      object: { apiVersion: 'kustomize.config.k8s.io/v1alpha1', kind: 'Component', resources: ['podmonitor.yaml'] },
    },
    {
      path: `${MONITORING_DIR}/podmonitor.yaml`,
      header: ['Tells the Prometheus Operator to scrape every node plugin pod\'s /metrics.'],
      object: {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata: { name: 'nixmount-node', namespace: options.namespace, labels: commonLabels('node-plugin') },
        spec: {
          selector: { matchLabels: commonLabels('node-plugin') },
          podMetricsEndpoints: [
            noted('The node label says which node a series is about (instance is the pod\'s IP).', {
              port: 'metrics',
              path: '/metrics',
              interval: '30s',
              relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }],
            }),
          ],
        },
      },
    },
  ];
}
