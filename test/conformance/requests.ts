import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mountCapability } from '../helpers/csi-client.js';
import type { TestPlugin } from '../helpers/plugin.js';

export const ALL_MODES = [
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'MULTI_NODE_READER_ONLY',
  'MULTI_NODE_SINGLE_WRITER',
  'MULTI_NODE_MULTI_WRITER',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
] as const;

export function createRequest(name: string, parameters: Record<string, string>, extra: Record<string, unknown> = {}) {
  return { name, parameters, volume_capabilities: [mountCapability('MULTI_NODE_READER_ONLY')], ...extra };
}

export function blockCapability(mode = 'SINGLE_NODE_WRITER') {
  return { block: {}, access_mode: { mode } };
}

/** What the controller has on disk: one file per volume it remembers. */
export async function controllerRecords(plugin: TestPlugin): Promise<string[]> {
  return readdir(join(plugin.stateDir, 'controller', 'volumes')).catch(() => []);
}

export async function nodeCapabilities(plugin: TestPlugin): Promise<string[]> {
  const response = await plugin.client.call('node', 'NodeGetCapabilities', {});
  return (response.capabilities as Array<{ rpc: { type: string } }>).map((capability) => capability.rpc.type);
}
