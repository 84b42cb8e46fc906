import fs from 'node:fs';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { createDepartmentResolver, DepartmentResolver, Registry } from '../../../core/identifiers/department';

export interface CatalogueItem {
  code: string;
  name: string;
  kind: string;
  department: string;
  legalDays: number;
  promisedDays: number;
  intakeDays: number;
}

/** The tables every profile shares: the department registry and the item catalogue (contracts/). */
export interface SharedTables {
  registry: Registry;
  resolver: DepartmentResolver;
  items: Map<string, CatalogueItem>;
  /** Content hash of both files; part of every profile version. */
  version: string;
}

export function loadSharedTables(registryFile: string, catalogueFile: string): SharedTables {
  const registryText = fs.readFileSync(registryFile, 'utf8');
  const catalogueText = fs.readFileSync(catalogueFile, 'utf8');
  const registry = YAML.parse(registryText) as Registry;
  const catalogue = YAML.parse(catalogueText) as { items: CatalogueItem[] };
  return {
    registry,
    resolver: createDepartmentResolver(registry),
    items: new Map(catalogue.items.map((i) => [i.code, i])),
    version: createHash('sha256').update(registryText).update('\0').update(catalogueText).digest('hex'),
  };
}
