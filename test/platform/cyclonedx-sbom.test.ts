import test from 'ava';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProvenanceEntry } from '../../src/platform/closure-provenance.js';
import { cyclonedxSbom, SBOM_FILE, VOLUME_REF, writeSbomFile } from '../../src/platform/cyclonedx-sbom.js';
import { cyclonedxSchemaErrors } from '../helpers/cyclonedx.js';

const APP = '/nix/store/184b2661y8zwy2gqzibrz9szkgydmrfj-app-1.0';
const LIB = '/nix/store/zm8v5gxjdk6cs5fjri3iqhl37q8l4v1y-libfoo-2.3-lib';
const SRC = '/nix/store/0c3ab7qhn0pfbnxp6hlmgw8hxdwcrcj8-source';
const DRV = '/nix/store/llv7qdnhinbn330pv38q7ra158azphpc-app-1.0.drv';
const HEX = 'f764679faab7eac6b17e0938dcb2f76fe73fff5c9afe3fd4c64340ab38e807ac';

function entry(path: string, fields: Partial<ProvenanceEntry> = {}): ProvenanceEntry {
  return { path, narHash: 'sha256-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=', narSize: 608, references: [], signatures: [], deriver: null, origin: 'built', ...fields };
}

const CLOSURE: ProvenanceEntry[] = [
  entry(APP, { references: [LIB, APP], deriver: DRV, registrationTime: 1796655483, ultimate: true }),
  entry(LIB, {
    narHash: 'sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7p',
    references: [LIB],
    signatures: ['z-cache-1:c2ln', 'a-cache-1:c2ln'],
    origin: 'substituted',
    substituter: 'http://127.0.0.1:8080',
  }),
  entry(SRC, { narHash: 'sha256:not-a-hash', narSize: 12, origin: 'node-store', ca: 'fixed:r:sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7p' }),
];

type Bom = {
  metadata: { component: Record<string, unknown> };
  components: ({ 'bom-ref': string } & Record<string, unknown>)[];
  dependencies: { ref: string; dependsOn: string[] }[];
} & Record<string, unknown>;

test('one component per store path, its hash in hex, its provenance as nixmount: properties', async (t) => {
  const bom = cyclonedxSbom([APP], CLOSURE) as Bom;
  t.like(bom, { bomFormat: 'CycloneDX', specVersion: '1.6', version: 1 });
  t.false('serialNumber' in bom, 'no serial number: the same closure gives the same bytes');
  t.false('timestamp' in (bom.metadata as object));
  t.deepEqual(bom.components, [
    {
      type: 'library', 'bom-ref': SRC, name: 'source',
      properties: [
        { name: 'nixmount:narHash', value: 'sha256:not-a-hash' },
        { name: 'nixmount:narSize', value: '12' },
        { name: 'nixmount:ca', value: 'fixed:r:sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7p' },
        { name: 'nixmount:origin', value: 'node-store' },
      ],
    },
    {
      type: 'library', 'bom-ref': APP, name: 'app', version: '1.0',
      hashes: [{ alg: 'SHA-256', content: HEX }],
      properties: [
        { name: 'nixmount:narHash', value: 'sha256-92Rnn6q36saxfgk43LL3b+c//1ya/j/UxkNAqzjoB6w=' },
        { name: 'nixmount:narSize', value: '608' },
        { name: 'nixmount:deriver', value: DRV },
        { name: 'nixmount:origin', value: 'built' },
      ],
    },
    {
      type: 'library', 'bom-ref': LIB, name: 'libfoo', version: '2.3-lib',
      hashes: [{ alg: 'SHA-256', content: HEX }],
      properties: [
        { name: 'nixmount:narHash', value: 'sha256:1b07x0wanh23qva3zzlsbkzkzrvgyyrdqf09gsqwdsmpmagnfr7p' },
        { name: 'nixmount:narSize', value: '608' },
        { name: 'nixmount:signature', value: 'a-cache-1:c2ln' },
        { name: 'nixmount:signature', value: 'z-cache-1:c2ln' },
        { name: 'nixmount:origin', value: 'substituted' },
        { name: 'nixmount:substituter', value: 'http://127.0.0.1:8080' },
      ],
    },
  ]);
  t.deepEqual(bom.dependencies, [
    { ref: VOLUME_REF, dependsOn: [APP] },
    { ref: SRC, dependsOn: [] },
    { ref: APP, dependsOn: [LIB] }, // its reference to itself is no dependency
    { ref: LIB, dependsOn: [] },
  ]);
  t.deepEqual(bom.metadata.component, { type: 'application', 'bom-ref': VOLUME_REF, name: 'app', version: '1.0', properties: [{ name: 'nixmount:root', value: APP }] });
  t.is(await cyclonedxSchemaErrors(JSON.stringify(bom)), null);
});

test('several roots: the volume is named after all of them and depends on each; a derivation is a file', async (t) => {
  const closure = [...CLOSURE, entry(DRV, { references: [SRC] })];
  const bom = cyclonedxSbom([SRC, APP, DRV, APP], closure) as Bom;
  t.deepEqual(bom.metadata.component, {
    type: 'application', 'bom-ref': VOLUME_REF, name: 'source+app+app',
    properties: [SRC, APP, DRV].map((value) => ({ name: 'nixmount:root', value })),
  });
  t.deepEqual(bom.dependencies[0], { ref: VOLUME_REF, dependsOn: [SRC, APP, DRV] });
  t.like(bom.components.find((c) => c['bom-ref'] === DRV), { type: 'file', name: 'app', version: '1.0' });
  t.is(await cyclonedxSchemaErrors(JSON.stringify(bom)), null);
});

test('the same closure in any order gives the same bytes', (t) => {
  const shuffled = [CLOSURE[2]!, CLOSURE[0]!, { ...CLOSURE[1]!, references: [...CLOSURE[1]!.references].reverse(), signatures: [...CLOSURE[1]!.signatures].reverse() }];
  t.is(JSON.stringify(cyclonedxSbom([APP], shuffled)), JSON.stringify(cyclonedxSbom([APP], CLOSURE)));
});

test('a reference or root outside the closure names no component: it is left out, so every ref resolves', async (t) => {
  const stray = '/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-gone';
  const bom = cyclonedxSbom([APP, stray], [entry(APP, { references: [stray] })]) as Bom;
  t.deepEqual(bom.dependencies, [{ ref: VOLUME_REF, dependsOn: [APP] }, { ref: APP, dependsOn: [] }]);
  t.is(await cyclonedxSchemaErrors(JSON.stringify(bom)), null);
});

test('the schema check can fail: a component without a name is refused', async (t) => {
  const bom = cyclonedxSbom([APP], [entry(APP)]) as Bom;
  delete bom.components[0]!.name;
  t.not(await cyclonedxSchemaErrors(JSON.stringify(bom)), null);
});

test('written beside closure.json: readable by anyone, never over an existing file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nixmount-sbom-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeSbomFile(dir, [APP], CLOSURE);
  const file = join(dir, 'nix', SBOM_FILE);
  t.is(SBOM_FILE, 'var/nixmount/sbom.cdx.json');
  t.is((await stat(file)).mode & 0o777, 0o444);
  t.is(await readFile(file, 'utf8'), `${JSON.stringify(cyclonedxSbom([APP], CLOSURE), null, 2)}\n`);
  await t.throwsAsync(writeSbomFile(dir, [APP], CLOSURE), { code: 'EEXIST' });
});
