import { dirname } from 'node:path';
import type { ExecutionContext } from 'ava';
import { parseUserContext } from '../../../src/core/volume-context.js';
import { flags, installedBy, mountHolding, mountOf, only, type Obj, type ParsedManifests } from './manifest-facts.js';

/** What the node plugin's manifests settled, which the controller's must agree with. */
export interface NodeFacts {
  driverName: string;
  namespace: string;
  /** The plugin's socket inside its pod. */
  socket: string;
  image: string;
}

/**
 * The facts of manifests/controller/: installed by its own kustomization into the plugin's
 * namespace, `nixmount serve --mode controller` under the driver's name with the
 * external-provisioner on the same socket, state on a claim, RBAC for the provisioner, and
 * a StorageClass example the provisioner hands to this driver.
 */
export function checkControllerFacts(t: ExecutionContext, manifests: ParsedManifests, node: NodeFacts): void {
  const installed = installedBy(t, manifests, 'controller');
  t.deepEqual(
    installed.map((o) => o.kind).sort(),
    ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PersistentVolumeClaim', 'Role', 'RoleBinding', 'ServiceAccount'],
  );
  for (const object of installed.filter((o) => !o.kind.startsWith('Cluster'))) {
    t.is(object.metadata.namespace, node.namespace, `${object.kind} ${object.metadata.name} in the plugin's namespace`);
  }
  const serviceAccount = only(t, installed, 'ServiceAccount');
  const clusterRole = only(t, installed, 'ClusterRole');
  const role = only(t, installed, 'Role');
  for (const [binding, roleObject] of [[only(t, installed, 'ClusterRoleBinding'), clusterRole], [only(t, installed, 'RoleBinding'), role]] as const) {
    t.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: node.namespace }]);
    t.deepEqual(binding.roleRef, { kind: roleObject.kind, name: roleObject.metadata.name, apiGroup: 'rbac.authorization.k8s.io' });
  }

  // RBAC: what the external-provisioner needs, and leader-election leases.
  const allows = (rules: Obj[], resource: string, verb: string) => rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb));
  for (const [resource, verb] of [
    ['persistentvolumes', 'create'],
    ['persistentvolumes', 'delete'],
    ['persistentvolumeclaims', 'watch'],
    ['persistentvolumeclaims', 'update'],
    ['storageclasses', 'get'],
    ['csinodes', 'get'],
    ['nodes', 'get'],
    ['events', 'create'],
  ] as const) {
    t.true(allows(clusterRole.rules, resource, verb), `ClusterRole: ${resource} ${verb}`);
  }
  t.true(allows(role.rules, 'leases', 'update'), 'Role: leases update');

  // The Deployment: one replica at a time, since one pod writes the state claim.
  const deployment = only(t, installed, 'Deployment');
  t.is(deployment.spec.replicas, 1);
  t.is(deployment.spec.strategy.type, 'Recreate');
  t.deepEqual(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels);
  const pod: Obj = deployment.spec.template.spec;
  t.is(pod.serviceAccountName, serviceAccount.metadata.name);
  const volumes = new Map<string, Obj>((pod.volumes as Obj[]).map((v) => [v.name, v]));
  const containers = pod.containers as Obj[];
  t.is(containers.length, 2);
  for (const c of containers) t.truthy(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${c.name} has resource requests`);

  const controller = containers.find((c) => c.args?.[0] === 'serve')!;
  t.truthy(controller, 'a container runs `nixmount serve`');
  t.deepEqual(controller.command, ['nixmount']);
  t.is(controller.image, node.image, 'the same nixmount image as the node plugin');
  t.falsy(controller.securityContext?.privileged, 'the controller mounts nothing');
  const args = flags(controller.args);
  t.is(args.get('mode'), 'controller');
  // external-provisioner serves the StorageClasses whose provisioner is the name GetPluginInfo reports.
  t.is(args.get('driver-name'), node.driverName);
  t.is(args.get('orchestrator'), 'local', 'no topology: the volumes are usable on every node');
  const endpoint = args.get('endpoint')!;
  t.true(endpoint.startsWith('unix://'));
  const socket = endpoint.slice('unix://'.length);
  t.is(socket, node.socket);
  const socketMount = mountHolding(controller, socket)!;
  t.is(socketMount.mountPath, dirname(socket));
  t.deepEqual(volumes.get(socketMount.name)?.emptyDir, {}, 'the socket is private to the pod');

  // State on the claim, so a rescheduled controller keeps its records.
  const stateDir = args.get('state-dir')!;
  const stateMount = mountHolding(controller, stateDir)!;
  t.is(stateMount.mountPath, stateDir);
  const claim = only(t, installed, 'PersistentVolumeClaim');
  t.is(volumes.get(stateMount.name)?.persistentVolumeClaim?.claimName, claim.metadata.name);
  t.is(claim.spec.storageClassName, undefined, 'the default StorageClass, never nixmount\'s own');
  t.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);

  const provisioner = containers.find((c) => String(c.image).includes('/csi-provisioner:'))!;
  t.truthy(provisioner, 'an external-provisioner container');
  const provisionerArgs = provisioner.args as string[];
  t.is(flags(provisionerArgs).get('csi-address'), socket);
  t.is(mountOf(provisioner, socketMount.name).mountPath, dirname(socket));
  t.true(provisionerArgs.includes('--leader-election'));
  t.is(flags(provisionerArgs).get('leader-election-namespace'), node.namespace);
  t.false(provisionerArgs.some((arg) => arg.startsWith('--extra-create-metadata')), 'its keys would be refused as parameters');

  // Examples: a StorageClass of this driver with valid user keys, a claim on it, a pod using the claim.
  const examples = [...manifests.files].filter(([path]) => path.startsWith('controller/examples/')).flatMap(([, file]) => file);
  const storageClass = only(t, examples, 'StorageClass');
  t.is(storageClass.provisioner, node.driverName);
  t.notThrows(() => parseUserContext(storageClass.parameters));
  const exampleClaim = only(t, examples, 'PersistentVolumeClaim');
  t.is(exampleClaim.spec.storageClassName, storageClass.metadata.name);
  t.deepEqual(exampleClaim.spec.accessModes, ['ReadOnlyMany']);
  const examplePod = only(t, examples, 'Pod').spec;
  const claimVolume = (examplePod.volumes as Obj[]).find((v) => v.persistentVolumeClaim?.claimName === exampleClaim.metadata.name)!;
  t.truthy(claimVolume, 'the pod uses the claim');
  t.is(claimVolume.persistentVolumeClaim.readOnly, true);
  for (const container of examplePod.containers as Obj[]) {
    t.deepEqual(mountOf(container, claimVolume.name), { name: claimVolume.name, mountPath: '/nix', readOnly: true });
  }
}
