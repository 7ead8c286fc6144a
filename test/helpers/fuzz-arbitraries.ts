import fc from 'fast-check';
import { createHash } from 'node:crypto';

/** fast-check settings every fuzz property shares: a fixed seed and a bounded run count unless the knobs say otherwise. */
export function fuzzParameters(defaultRuns = 150): { seed: number; numRuns: number; endOnFailure: boolean } {
  return {
    seed: Number(process.env.NIXMOUNT_FUZZ_SEED ?? 20261123),
    numRuns: Number(process.env.NIXMOUNT_FUZZ_RUNS ?? defaultRuns),
    // A failing case leaves the plugin in whatever state it made; shrinking against that state would mislead.
    endOnFailure: true,
  };
}

const BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';

/** A well-formed store path that no store holds (deterministic in `seed`). */
export function fakeStorePath(seed: number | string, name = 'fuzz-missing'): string {
  const digest = createHash('sha256').update(String(seed)).digest();
  let hash = '';
  for (let i = 0; i < 32; i++) hash += BASE32[digest[i % digest.length]! % 32];
  return `/nix/store/${hash}-${name}`;
}

const huge = (min: number, max: number, char = 'x') => fc.integer({ min, max }).map((n) => char.repeat(n));
const withNul = fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}\0${b}`);
const unicode = fc.string({ unit: 'binary', maxLength: 40 });

/** Volume ids: ordinary, empty, unicode, NUL, around and far over the 1 KiB limit. */
export const volumeIdArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('v1', 'vol-a', 'csi-0123456789abcdef') },
  { weight: 2, arbitrary: fc.string({ maxLength: 128 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: unicode },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: huge(1000, 1100, 'i') },
  { weight: 1, arbitrary: huge(4096, 200_000, 'i') },
);

/** Volume-context values: the real closure, store-path-like strings, lists of 0–2000 paths, junk, huge. */
export function contextValueArb(realRoot: string) {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant(realRoot) },
    { weight: 2, arbitrary: fc.nat().map((n) => fakeStorePath(n)) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.constantFrom(' ', '\n', '\t', ',')).map(([n, sep]) => Array.from({ length: n }, (_, i) => fakeStorePath(`${n}-${i}`)).join(sep)) },
    { weight: 1, arbitrary: fc.tuple(fc.constant(realRoot), fc.integer({ min: 1, max: 20 })).map(([root, n]) => [root, ...Array.from({ length: n }, (_, i) => fakeStorePath(i))].join(' ')) },
    { weight: 1, arbitrary: fc.constantFrom('/nix/store', '/nix/store/', `${realRoot}/bin/hello`, `${realRoot}/..`, '/etc/passwd', '', ' ', '/nix/store/aaaa-short', `/nix/store/${'e'.repeat(32)}-bad-alphabet`) },
    { weight: 1, arbitrary: fc.string({ maxLength: 64 }) },
    { weight: 1, arbitrary: unicode },
    { weight: 1, arbitrary: withNul },
    { weight: 1, arbitrary: huge(65_000, 1 << 20, 'p') },
  );
}

/** Volume-context keys: the known ones, system keys, unknown, unicode, NUL, huge. */
export const contextKeyArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('paths') },
  { weight: 2, arbitrary: fc.constantFrom('x86_64-linux', 'aarch64-linux', 'expression', 'flakeRef') },
  { weight: 1, arbitrary: fc.constantFrom('csi.storage.k8s.io/ephemeral', 'csi.storage.k8s.io/pod.name', 'csi.storage.k8s.io/pod.uid', 'CSI_ENDPOINT', '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.string({ maxLength: 32 }) },
  { weight: 1, arbitrary: unicode },
  { weight: 1, arbitrary: withNul },
  { weight: 1, arbitrary: huge(1000, 1100, 'k') },
  { weight: 1, arbitrary: huge(4096, 1 << 20, 'k') },
);

export function volumeContextArb(realRoot: string) {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ paths: realRoot } as Record<string, string>) },
    { weight: 6, arbitrary: fc.dictionary(contextKeyArb, contextValueArb(realRoot), { maxKeys: 4 }) },
  );
}

const ACCESS_MODES = ['UNKNOWN', 'SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'MULTI_NODE_MULTI_WRITER', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER'];

// Mount flags from a harmless vocabulary (plus junk without path-like content): today's plugin hands
// them to mount(8), and a flag such as "workdir=/etc" could make even a namespaced mount write on the host.
const mountFlagArb = fc.oneof(
  fc.constantFrom('ro', 'rw', 'noexec', 'nosuid', 'nodev', 'noatime', 'relatime', 'sync', 'bind', 'rbind', 'remount', 'defaults', '', 'noatime,nodiratime', 'x=y', 'size=1m', 'mode=0777'),
  fc.stringMatching(/^[a-z]{1,12}$/),
  huge(300, 5000, 'f'),
);

/** Capabilities: mount (fs_type, flags) or block, or none; every access mode, unknown numbers too. */
export const capabilityArb = fc.oneof(
  { weight: 6, arbitrary: fc.record({
    mount: fc.record({ fs_type: fc.oneof(fc.constantFrom('', '', 'ext4', 'xfs', 'tmpfs', 'overlay'), fc.string({ maxLength: 20 })), mount_flags: fc.array(mountFlagArb, { maxLength: 4 }) }),
    access_mode: fc.record({ mode: fc.oneof(fc.constantFrom(...ACCESS_MODES), fc.integer({ min: 8, max: 1000 })) }),
  }) },
  { weight: 1, arbitrary: fc.record({ block: fc.constant({}), access_mode: fc.record({ mode: fc.constantFrom(...ACCESS_MODES) }) }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ access_mode: fc.record({ mode: fc.constantFrom(...ACCESS_MODES) }) }) },
);

export interface PathPlaces {
  /** A directory of the test's own whose subdirectories are fine targets. */
  targets: string;
  /** Symlinks the test made: to /etc and to `targets`. */
  linkToEtc: string;
  linkToTargets: string;
  stateDir: string;
  storePath: string;
}

const segment = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,15}$/) },
  { weight: 1, arbitrary: fc.constantFrom('.', '..', '', ' ', '-') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).map((s) => s.replace(/[\/\0]/g, '_')) },
);

/**
 * Target and staging paths: fine ones under `targets`, and relative, `..`, `//`, trailing `/`,
 * `/./`, through the test's symlinks, NUL, very long, existing system directories (never a new
 * one: today's plugin would create it on the host), existing store paths, inside the state dir.
 */
export function pathArb(places: PathPlaces) {
  const fine = segment.map((name) => `${places.targets}/${name}`);
  return fc.oneof(
    { weight: 6, arbitrary: fine },
    { weight: 1, arbitrary: fine.map((path) => `${path}/`) },
    { weight: 1, arbitrary: segment.map((name) => `${places.targets}//${name}`) },
    { weight: 1, arbitrary: segment.map((name) => `${places.targets}/./${name}`) },
    { weight: 1, arbitrary: segment.map((name) => `${places.targets}/sub/../${name}`) },
    { weight: 1, arbitrary: segment.map((name) => `${places.linkToTargets}/${name}`) },
    { weight: 1, arbitrary: fc.constantFrom(places.linkToEtc, `${places.linkToEtc}/`, '/etc', '/etc/', '/', '/usr', '/nix/store', places.storePath, '/dev/null', '/proc/self') },
    { weight: 1, arbitrary: fc.constantFrom(places.stateDir, `${places.stateDir}/volumes`, `${places.stateDir}/views`, `${places.stateDir}/views/x`, `${places.stateDir}/overlays/x`) },
    { weight: 1, arbitrary: segment.map((name) => name || 'rel') },
    { weight: 1, arbitrary: fc.constantFrom('', '.', '..', 'relative/path') },
    { weight: 1, arbitrary: segment.map((name) => `${places.targets}/${name}\0tail`) },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 400 }).map((n) => `${places.targets}/${'n'.repeat(n)}`) },
    { weight: 1, arbitrary: fc.integer({ min: 4000, max: 20_000 }).map((n) => `${places.targets}/${'d/'.repeat(Math.floor(n / 2))}x`) },
  );
}
