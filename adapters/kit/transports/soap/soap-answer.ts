// The push operation's answer element, filled from the adapter definition. A department's answer
// may keep its result code, message and case code in nested elements (a JAX-WS service answers
// `pushApprovalResponse/return/{code,message}`), so each field is a path of element names. node-soap
// writes an object's keys in the order they were set, and a sender that validates the answer
// against its schema refuses a sequence written out of order: the answer is built in the order of
// the schema, level by level.

import { ConfigError } from '../../../../core/kernel/errors';
import type { DescribedShape } from './soap-shape';

/** The answer's fields as `answer` in adapter.yaml names them: paths of element names, dot-separated. */
export interface AnswerFields {
  codeField: string;
  messageField: string;
  caseCodeField?: string;
}

export interface AnswerValues {
  code: number | string;
  message: string;
  caseCode: string;
}

// describe() adds these to every complex type; they are not elements.
const META = new Set(['targetNSAlias', 'targetNamespace']);

type Child = { name: string; inner: string | DescribedShape };

/** The elements of a described complex type, in the order of its schema sequence. */
function childrenOf(shape: DescribedShape): Child[] {
  return Object.entries(shape).filter(([k]) => !META.has(k)).map(([k, inner]) => ({ name: k.replace(/\[\]$/, ''), inner }));
}

/** Every simple element under a shape, as the paths an answer field may name. */
export function answerFieldPaths(shape: DescribedShape, at = ''): string[] {
  return childrenOf(shape).flatMap(({ name, inner }) => {
    const p = at ? `${at}.${name}` : name;
    return typeof inner === 'object' ? answerFieldPaths(inner, p) : [p];
  });
}

/**
 * The element a path names: the element names it passes through, and what that element holds.
 * An element whose own name has a dot is matched whole before the path is split at it.
 */
function resolvePath(shape: DescribedShape, path: string): { names: string[]; inner: string | DescribedShape } | null {
  const children = childrenOf(shape);
  const direct = children.find((c) => c.name === path);
  if (direct) return { names: [direct.name], inner: direct.inner };
  for (const c of children) {
    if (typeof c.inner !== 'object' || !path.startsWith(`${c.name}.`)) continue;
    const rest = resolvePath(c.inner, path.slice(c.name.length + 1));
    if (rest) return { names: [c.name, ...rest.names], inner: rest.inner };
  }
  return null;
}

type Tree = Map<string, unknown | Tree>;

/**
 * Writes the answer of the push operation: the response element as node-soap describes it, with
 * the code, message and case code at the paths the definition names. The paths are checked when
 * the adapter is loaded, so that `hub adapter test` and `hub map` name a wrong one.
 */
export class AnswerWriter {
  private readonly paths: { role: keyof AnswerValues; names: string[] }[] = [];

  constructor(private readonly output: DescribedShape, fields: AnswerFields, where: string, responseElement: string) {
    const roles: [keyof AnswerFields, keyof AnswerValues][] = [['codeField', 'code'], ['messageField', 'message'], ['caseCodeField', 'caseCode']];
    const taken = new Map<string, string>();
    for (const [option, role] of roles) {
      const path = fields[option];
      if (path === undefined) continue;
      const found = resolvePath(output, path);
      const known = answerFieldPaths(output);
      if (!found) {
        throw new ConfigError(`${where}.${option}: ${responseElement} has no field ${path} (its fields, as paths: ${known.join(', ') || 'none'})`, { field: option, value: path });
      }
      if (typeof found.inner === 'object') {
        const under = known.filter((k) => k.startsWith(`${found.names.join('.')}.`));
        throw new ConfigError(`${where}.${option}: ${path} in ${responseElement} is an element with fields of its own; name one of them (${under.join(', ')})`, { field: option, value: path });
      }
      const key = found.names.join('\u0000');
      const other = taken.get(key);
      if (other) throw new ConfigError(`${where}.${option}: ${path} is already the answer's ${other}; each field is filled once`, { field: option, value: path });
      taken.set(key, option);
      this.paths.push({ role, names: found.names });
    }
  }

  /** The response element's content: only the named fields and the elements that hold them, in schema order. */
  write(values: AnswerValues): Record<string, unknown> {
    const tree: Tree = new Map();
    for (const { role, names } of this.paths) {
      let node = tree;
      for (const n of names.slice(0, -1)) {
        if (!node.has(n)) node.set(n, new Map());
        node = node.get(n) as Tree;
      }
      node.set(names[names.length - 1], values[role]);
    }
    return ordered(this.output, tree);
  }
}

function ordered(shape: DescribedShape, tree: Tree): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { name, inner } of childrenOf(shape)) {
    if (!tree.has(name)) continue;
    const v = tree.get(name);
    out[name] = v instanceof Map && typeof inner === 'object' ? ordered(inner, v as Tree) : v;
  }
  return out;
}
