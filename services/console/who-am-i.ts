// `GET /api/v1/me`: what a bearer token may see, asked by the console once signed in, so that it
// shows the views of the token's roles and offers only the departments, halls and items the token
// sees. The server still checks every call: this answer only shapes the page.
import fs from 'node:fs';
import YAML from 'yaml';
import type { Registry } from '../../core/identifiers/department';
import type { Caller, VisibleDepartment, WhoAmI } from './who-am-i-types';

export type { Caller, VisibleDepartment, WhoAmI } from './who-am-i-types';

/** Reads the registry and the catalogue once; both change only with a new release or configuration. */
export function departmentCatalogue(registryFile: string, catalogueFile: string): () => VisibleDepartment[] {
  let loaded: VisibleDepartment[] | null = null;
  return () => {
    if (loaded) return loaded;
    const registry = YAML.parse(fs.readFileSync(registryFile, 'utf8')) as Registry;
    const catalogue = YAML.parse(fs.readFileSync(catalogueFile, 'utf8')) as { items: { code: string; name: string; department: string }[] };
    loaded = registry.departments.map((d) => ({
      code: d.code,
      name: d.name,
      ...(d.short ? { short: d.short } : {}),
      halls: (d.halls ?? []).map((h) => ({ code: h.code, name: h.name })),
      items: catalogue.items.filter((i) => i.department === d.code).map((i) => ({ code: i.code, name: i.name })),
    }));
    return loaded;
  };
}

/** The answer of /me for a caller: its roles and grant, and the departments it sees. */
export function whoAmI(caller: Caller, all: readonly VisibleDepartment[]): WhoAmI {
  const scope = caller.departments;
  return { ...caller, visibleDepartments: scope ? all.filter((d) => scope.includes(d.code)) : [...all] };
}
