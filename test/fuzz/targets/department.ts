// Fuzz target: resolving a department or hall by any of the names and codes a department system
// uses for it (the registry of contracts/). The input is that name or code. A refusal is clean; a
// name it resolves must give a department (and hall) of the registry, the department's own code
// must resolve to the same department, and what a caller does with an answer must not change the
// next one.

import { createDepartmentResolver } from '../../../core/identifiers/department';
import { sharedTables } from '../departments';
import { holds } from '../invariant';

const { registry } = sharedTables();
const resolver = createDepartmentResolver(registry);
const RULES = new Set(['empty', 'unknown-alias']);

export function fuzz(data: Buffer): void {
  const input = data.toString('utf8');
  const r = resolver.resolve(input);
  if (!r.ok) {
    holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
    return;
  }
  const found = r.value;
  const dept = registry.departments.find((d) => d.code === found.code);
  holds(!!dept && dept.name === found.name, 'a name resolves to a department that is not in the registry', found);
  if (found.hall) holds((dept.halls ?? []).some((h) => h.code === found.hall!.code && h.name === found.hall!.name), 'a name resolves to a hall that is not the department\'s', found);
  const own = resolver.resolve(found.code);
  holds(own.ok && own.value.code === found.code && !own.value.hall, 'a department\'s own code does not resolve to it', { found, own });
  const before = JSON.stringify(found);
  found.name = 'changed by a caller';
  if (found.hall) found.hall.name = 'changed by a caller';
  const next = resolver.resolve(input);
  holds(next.ok && JSON.stringify(next.value) === before, 'a caller that changes an answer changes the resolver', { before, next });
}
