// Department systems name the same organ in many ways: full name, short name, local codes,
// canonical unified social credit code. The registry (contracts/registry.yaml) lists them all;
// this resolves any of them to the canonical department and, for a branch hall, the hall.

import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

/** A branch hall (专业分大厅) that reports under its own local code. */
export type RegistryHall = { code: string; name: string; aliases?: (string | number)[] };

export type RegistryDepartment = {
  /** Unified social credit code of the organ (GB 32100). */
  code: string;
  name: string;
  short?: string;
  /** 垂直管理: its business system is run by a provincial or national line. */
  vertical?: boolean;
  aliases?: (string | number)[];
  /** Adapter ids whose messages belong to this department. */
  systems?: string[];
  halls?: RegistryHall[];
};

/** The parsed `contracts/registry.yaml`. */
export type Registry = { region: string; departments: RegistryDepartment[] };

export type DepartmentRef = { code: string; name: string; hall?: { code: string; name: string } };

export type DepartmentResolver = { resolve(aliasOrCode: string): Normalised<DepartmentRef> };

// Spaces (ASCII or full-width) and letter case carry no meaning in a name or a code.
function key(text: string): string {
  return toHalfWidth(text).replace(/\s+/g, '').toUpperCase();
}

/**
 * Builds a resolver over every name, short name, alias and code in the registry. Throws when
 * the registry is malformed or one alias names two different targets, so that a bad registry
 * fails at start-up rather than misfiling cases.
 */
export function createDepartmentResolver(registry: Registry): DepartmentResolver {
  if (!registry || !Array.isArray(registry.departments)) {
    throw new TypeError('department registry has no departments list');
  }
  const byKey = new Map<string, DepartmentRef>();
  const add = (alias: unknown, target: DepartmentRef, where: string): void => {
    if (typeof alias !== 'string' && typeof alias !== 'number') {
      throw new TypeError(`department registry: ${where} has a non-text alias ${JSON.stringify(alias)}`);
    }
    // YAML reads an unquoted local code such as 11301000000 as a number.
    const k = key(String(alias));
    if (k === '') throw new TypeError(`department registry: ${where} has an empty alias`);
    const existing = byKey.get(k);
    if (existing && (existing.code !== target.code || existing.hall?.code !== target.hall?.code)) {
      const other = existing.hall ? existing.hall.name : existing.name;
      throw new Error(`department registry: "${alias}" names both ${other} and ${where}`);
    }
    byKey.set(k, target);
  };

  for (const [i, d] of registry.departments.entries()) {
    if (!d || typeof d.code !== 'string' || typeof d.name !== 'string') {
      throw new TypeError(`department registry: departments[${i}] needs a code and a name`);
    }
    const department: DepartmentRef = { code: d.code, name: d.name };
    for (const alias of [d.code, d.name, ...(d.short ? [d.short] : []), ...(d.aliases ?? [])]) {
      add(alias, department, d.name);
    }
    for (const [j, h] of (d.halls ?? []).entries()) {
      if (!h || typeof h.code !== 'string' || typeof h.name !== 'string') {
        throw new TypeError(`department registry: ${d.name} halls[${j}] needs a code and a name`);
      }
      const hall: DepartmentRef = { code: d.code, name: d.name, hall: { code: h.code, name: h.name } };
      for (const alias of [h.code, h.name, ...(h.aliases ?? [])]) add(alias, hall, h.name);
    }
  }

  return {
    resolve(aliasOrCode: string): Normalised<DepartmentRef> {
      const k = key(aliasOrCode);
      if (k === '') return refuse('empty', '为空', 'no department name or code given');
      const found = byKey.get(k);
      if (!found) {
        return refuse('unknown-alias', '无法识别', `no department or hall is known as ${JSON.stringify(aliasOrCode.trim())}`);
      }
      // A copy, so that a caller cannot alter the resolver's table.
      return accept(found.hall ? { ...found, hall: { ...found.hall } } : { ...found });
    },
  };
}
