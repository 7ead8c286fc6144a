/** What a user asked for, independent of the orchestrator that carried the request. */
export interface VolumeSpec {
  /** From the `paths` key: store paths, several roots allowed. */
  storePaths: string[];
  /** From `<system>` keys, e.g. { "x86_64-linux": [...] }; only the node's system is used. */
  systemPaths: Record<string, string[]>;
  /** Nix expression text (a derivation, or a function taking {}). */
  expression?: string;
  /** A flake installable. */
  flakeRef?: string;
}

export function emptySpec(): VolumeSpec {
  return { storePaths: [], systemPaths: {} };
}

/** A stable text form of the spec, used to tell an idempotent retry from a conflicting request. */
export function specFingerprint(spec: VolumeSpec): string {
  const systems = Object.keys(spec.systemPaths).sort();
  return JSON.stringify({
    p: [...spec.storePaths].sort(),
    s: systems.map((system) => [system, [...(spec.systemPaths[system] ?? [])].sort()]),
    e: spec.expression ?? null,
    f: spec.flakeRef ?? null,
  });
}
