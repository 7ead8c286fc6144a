/** A comment placed above the key (or list item) at `path` of a manifest object. */
export type KeyComment = [path: Array<string | number>, text: string];

/** One YAML file of the manifests: a header comment, one object, and comments on some of its keys. */
export interface ManifestFile {
  /** Path relative to manifests/, e.g. "daemonset.yaml" or "examples/pod-readonly.yaml". */
  path: string;
  header: string[];
  object: Record<string, unknown>;
  comments?: KeyComment[];
}
