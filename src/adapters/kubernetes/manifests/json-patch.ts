import { parse, parseDocument } from 'yaml';

/**
 * A rendered object with a component's JSON patch applied, comments kept: what
 * `kubectl apply -k` of an overlay with the component installs. The patch has two kinds of
 * operation: `add` at `…/-` appends to a list, `add`/`replace` elsewhere sets a key.
 */
export function withJsonPatch(objectYaml: string, patchYaml: string, patchPath: string): string {
  const doc = parseDocument(objectYaml);
  for (const { op, path, value } of parse(patchYaml) as Array<{ op: string; path: string; value: unknown }>) {
    const keys = path.split('/').slice(1).map((key) => (/^\d+$/.test(key) ? Number(key) : key));
    if (op === 'add' && keys.at(-1) === '-') doc.addIn(keys.slice(0, -1), value);
    else if (op === 'add' || op === 'replace') doc.setIn(keys, value);
    else throw new Error(`${patchPath}: unsupported operation ${op} ${path}`);
  }
  return doc.toString({ lineWidth: 0 });
}
