import test from 'ava';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { readCapability } from '../../src/csi/capability.js';
import type { VolumeCapability__Output } from '../../src/gen/csi/v1/VolumeCapability.js';

function capability(fields: { mode?: string; fsType?: string; flags?: string[]; block?: boolean; mount?: boolean } = {}): VolumeCapability__Output {
  return {
    access_mode: { mode: (fields.mode ?? 'SINGLE_NODE_WRITER') as never },
    mount: fields.mount === false || fields.block ? null : { fs_type: fields.fsType ?? '', mount_flags: fields.flags ?? [], volume_mount_group: '' },
    block: fields.block ? {} : null,
    access_type: fields.block ? 'block' : 'mount',
  } as VolumeCapability__Output;
}

test('every CSI access mode reads as its neutral name', (t) => {
  const modes: Record<string, string> = {
    SINGLE_NODE_WRITER: 'single-node-writer',
    SINGLE_NODE_READER_ONLY: 'single-node-reader-only',
    MULTI_NODE_READER_ONLY: 'multi-node-reader-only',
    MULTI_NODE_SINGLE_WRITER: 'multi-node-single-writer',
    MULTI_NODE_MULTI_WRITER: 'multi-node-multi-writer',
    SINGLE_NODE_SINGLE_WRITER: 'single-node-single-writer',
    SINGLE_NODE_MULTI_WRITER: 'single-node-multi-writer',
  };
  for (const [mode, name] of Object.entries(modes)) t.is(readCapability(capability({ mode })).accessMode as string, name);
});

test('mount flags: comma lists split, repeats dropped, ro/nosuid/nodev dropped (always applied)', (t) => {
  const read = readCapability(capability({ flags: ['noatime,noexec', 'noatime', 'ro', 'nosuid,nodev', ''] }));
  t.deepEqual(read.mountFlags, ['noatime', 'noexec']);
});

test('refusals are INVALID_ARGUMENT naming the field and the value', (t) => {
  const cases: Array<[VolumeCapability__Output | null, RegExp]> = [
    [null, /^volume_capability is required$/],
    [capability({ block: true }), /^volume_capability: block access is not supported/],
    [capability({ mount: false }), /^volume_capability: access_type must be mount/],
    [capability({ mode: 'UNKNOWN' }), /^volume_capability\.access_mode: UNKNOWN is not a usable access mode/],
    [capability({ fsType: 'ext4' }), /^volume_capability\.mount\.fs_type: "ext4" is not supported/],
    [capability({ flags: ['rw'] }), /^volume_capability\.mount\.mount_flags: "rw" is not supported \(allowed: /],
  ];
  for (const [value, message] of cases) t.throws(() => readCapability(value), { instanceOf: InvalidArgumentError, message });
});
