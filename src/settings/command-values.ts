// Each command's typed values. The command handlers take them; the command table
// (src/cli/commands.ts) loads the handlers, so the types live here, where the handlers can
// import them without importing the table that imports them.
import type { ValuesFor } from './option.js';
import type { PluginOptions } from './plugin-options.js';
import type { ToolOptions } from './tool-options.js';

/** Beside these, `serve`'s values carry the built-in adapters' own flags (registry.ts chosenAdapter reads them). */
export type ServeValues = ValuesFor<PluginOptions, 'serve'>;
export type PublishValues = ValuesFor<PluginOptions, 'publish'>;
export type UnpublishValues = ValuesFor<PluginOptions, 'unpublish'>;
export type GcValues = ValuesFor<PluginOptions, 'gc'>;
export type DoctorValues = ValuesFor<PluginOptions, 'doctor'>;
export type ManifestsValues = ValuesFor<ToolOptions, 'k8s manifests'>;
export type NomadVolumeValues = ValuesFor<ToolOptions, 'nomad volume'>;
export type NomadCheckValues = ValuesFor<ToolOptions, 'nomad check'>;

/** Each command's typed values, by name. */
export interface CommandValues {
  serve: ServeValues;
  publish: PublishValues;
  unpublish: UnpublishValues;
  gc: GcValues;
  doctor: DoctorValues;
  'k8s manifests': ManifestsValues;
  'nomad volume': NomadVolumeValues;
  'nomad check': NomadCheckValues;
}

/** Runs a command with its parsed values; the exit status, or nothing for 0 (and for `serve`, which keeps running). */
export type CommandHandler<V> = (values: V, positionals: string[]) => Promise<number | void>;
