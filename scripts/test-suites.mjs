// Which test files need neither root nor Nix: `npm run test:unit` runs these. From a
// built tree on a 2-core machine shared with other jobs (load average 6–15) it took
// 37–74 s, median 49 s over four runs; a changed source adds the build, 20–30 s. Everything else (real mounts,
// real Nix, a real plugin) needs root and Debian's nix-bin, and runs in `npm test`
// with these.
export const UNIT_TESTS = [
  'dist/test/core/**/*.test.js',
  // platform/linux-mounter needs root (it mounts); the rest of platform/ does not.
  'dist/test/platform/controller-records.test.js',
  'dist/test/platform/hardlink-view-store.test.js',
  'dist/test/platform/mountinfo.test.js',
  'dist/test/platform/proc-mount-budget.test.js',
  'dist/test/platform/nix-realise-output.test.js',
  'dist/test/platform/nix-store-gc.test.js',
  'dist/test/platform/nix-gc-root-dir.test.js',
  'dist/test/platform/nix-cli-store-timeouts.test.js',
  'dist/test/platform/nix-hash.test.js',
  'dist/test/platform/store-path-name.test.js',
  'dist/test/platform/cyclonedx-sbom.test.js',
  'dist/test/platform/pino-logger.test.js',
  'dist/test/platform/volume-records.test.js',
  'dist/test/platform/metrics/*.test.js',
  'dist/test/csi/in-flight.test.js',
  'dist/test/csi/in-flight-guard.test.js',
  'dist/test/csi/error-mapping.test.js',
  'dist/test/csi/capability.test.js',
  'dist/test/csi/rpc-handler.test.js',
  'dist/test/settings/**/*.test.js',
  // The bench's own arithmetic against the core's choice (no mounts).
  'dist/test/bench/*.test.js',
  // Real processes racing for a state dir's lock (flock(1), util-linux); no root needed.
  'dist/test/state-dir-lock.test.js',
  'dist/test/cli/usage.test.js',
  'dist/test/cli/lazy-commands.test.js',
  'dist/test/doctor/doctor-parts.test.js',
  'dist/test/adapters/kubernetes/kubernetes-adapter.test.js',
  'dist/test/adapters/kubernetes/manifests.test.js',
  // The Events recorder talks to a loopback HTTPS server (its certificate made with openssl).
  'dist/test/adapters/kubernetes/events/*.test.js',
  'dist/test/adapters/kubernetes/events-manifests.test.js',
  'dist/test/adapters/nomad/nomad-adapter.test.js',
  'dist/test/adapters/nomad/nomad-cli.test.js',
  'dist/test/sdk/sdk-surface.test.js',
  'dist/test/sdk/testkit-contract.test.js',
  // npm's own list of the package's files (npm pack --dry-run), against what docs/adapters.md and the exports name.
  'dist/test/sdk/package-files.test.js',
  // The Docker Swarm adapter's package (sdk-examples/): its import check and the kit's contract checks.
  'sdk-examples/docker-swarm/dist/test/imports.test.js',
  'dist/test/adapters/module/adapter-module.test.js',
  'dist/test/cli/adapter-module.test.js',
  'dist/test/adapters/nomad-host/host-volume-request.test.js',
  'dist/test/adapters/nomad-host/host-volume-socket.test.js',
  'dist/test/docs/markdown.test.js',
  'dist/test/docs/links.test.js',
  'dist/test/docs/names.test.js',
  'dist/test/scripts/*.test.js',
];
