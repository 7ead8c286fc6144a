const NOTE = Symbol('manifest note');

/** A value with the comment that goes above it (its key in a map, or its item in a list). */
interface Noted {
  [NOTE]: string;
  value: unknown;
}

/**
 * `value`, with `text` as the comment above it in the rendered YAML. The comment is
 * written next to what it describes, so it moves with it; the renderer finds it.
 */
export function noted<T>(text: string, value: T): T {
  return { [NOTE]: text, value } as Noted as T;
}

/** A comment above the key or list item at `path` of a rendered object (found by `withoutNotes`). */
export type KeyComment = [path: Array<string | number>, text: string];

/** `value` as plain data, and the comments its `noted` parts carry, with the paths they ended up at. */
export function withoutNotes(value: unknown, path: Array<string | number> = [], found: KeyComment[] = []): { data: unknown; comments: KeyComment[] } {
  if (value !== null && typeof value === 'object' && NOTE in value) {
    found.push([path, (value as Noted)[NOTE]]);
    return withoutNotes((value as Noted).value, path, found);
  }
  if (Array.isArray(value)) return { data: value.map((item, index) => withoutNotes(item, [...path, index], found).data), comments: found };
  if (value !== null && typeof value === 'object') {
    const data = Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, withoutNotes(inner, [...path, key], found).data]));
    return { data, comments: found };
  }
  return { data: value, comments: found };
}

/** One YAML file of the manifests: a header comment and one object (whose `noted` parts become comments). */
export interface ManifestFile {
  /** Path relative to manifests/, e.g. "daemonset.yaml" or "examples/pod-readonly.yaml". */
  path: string;
  header: string[];
  object: Record<string, unknown>;
}
