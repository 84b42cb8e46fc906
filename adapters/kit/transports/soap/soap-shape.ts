// node-soap reads a request without checking it against the WSDL's schema: an element sent twice
// becomes an array, an element the schema does not have is kept. The hub refuses both before
// anything is stored, naming the element, as the sender's own schema validation would.

/** An operation's input as node-soap's describe() gives it: element names (`name[]` when repeatable), nested for complex types. */
export type DescribedShape = { [element: string]: string | DescribedShape };

export type ShapeCheck = { ok: true } | { ok: false; element: string; reason: string };

// describe() adds these to every complex type; a request's parsed object may carry attributes.
const META = new Set(['targetNSAlias', 'targetNamespace']);
const PARSED_META = new Set(['attributes', '$value', '$xml']);

/** Checks a parsed request against the operation's described input: no unknown element, none repeated that the schema has once. */
export function checkShape(value: unknown, shape: DescribedShape, at = ''): ShapeCheck {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ok: true };
  for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
    if (PARSED_META.has(name)) continue;
    const path = at ? `${at}.${name}` : name;
    const many = shape[`${name}[]`];
    const one = META.has(name) ? undefined : shape[name];
    if (many === undefined && one === undefined) {
      return { ok: false, element: path, reason: `请求与 WSDL 不符: 未知元素 ${path} (element ${path} is not in the operation's schema)` };
    }
    if (Array.isArray(v) && many === undefined) {
      return { ok: false, element: path, reason: `请求与 WSDL 不符: 元素 ${path} 重复 ${v.length} 次 (element ${path} appears ${v.length} times; the schema allows one)` };
    }
    const inner = many ?? one;
    if (typeof inner === 'object') {
      for (const item of Array.isArray(v) ? v : [v]) {
        const r = checkShape(item, inner, path);
        if (!r.ok) return r;
      }
    }
  }
  return { ok: true };
}
