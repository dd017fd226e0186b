// Typed access to parsed YAML/JSON documents, which are `unknown` until looked at.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at a path of keys and indices, or undefined where the path breaks. */
export function get(v: unknown, ...path: (string | number)[]): unknown {
  let cur = v;
  for (const key of path) {
    if (typeof key === 'number') cur = Array.isArray(cur) ? cur[key] : undefined;
    else cur = isObj(cur) ? cur[key] : undefined;
  }
  return cur;
}

export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** String-valued map (labels, selectors); other values are dropped. */
export function strMap(v: unknown): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, val] of Object.entries(obj(v))) if (typeof val === 'string') out.set(k, val);
  return out;
}

/** Every entry of `sub` is in `sup` with the same value (a label selector match). */
export function labelsMatch(sub: Map<string, string>, sup: Map<string, string>): boolean {
  if (sub.size === 0) return false;
  for (const [k, v] of sub) if (sup.get(k) !== v) return false;
  return true;
}
