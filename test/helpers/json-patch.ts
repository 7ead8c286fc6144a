type Obj = Record<string, any>;

/** RFC 6902 `add` (with `-` appending to a list) and `replace`, on a copy: what kustomize applies. */
export function applyJsonPatch(target: Obj, operations: Obj[]): Obj {
  const copy = structuredClone(target);
  for (const { op, path, value } of operations) {
    const keys = (path as string).split('/').slice(1);
    const last = keys.pop()!;
    const parent = keys.reduce((node: any, key) => node[key], copy);
    if (op === 'add' && Array.isArray(parent) && last === '-') parent.push(value);
    else if ((op === 'add' || op === 'replace') && !Array.isArray(parent)) parent[last] = value;
    else throw new Error(`unsupported patch operation ${op} ${path}`);
  }
  return copy;
}
