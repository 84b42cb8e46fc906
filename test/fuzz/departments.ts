// The demo departments as the fuzz targets use them: each one's adapter definition (its
// transport options checked and defaulted as the hub loads them) and its mapping profile in force.

import fs from 'node:fs';
import path from 'node:path';
import { ADAPTERS_DIR } from '../../core/kernel/paths';
import { loadAdapterDefinition, AdapterDefinition } from '../../adapters/kit/definition';
import { MappingProfile } from '../../adapters/kit/mapping/engine';
import { sharedTablesFor, readerFor, rawFromFile, sampleInputs } from '../../adapters/kit/conformance';
import type { SharedTables } from '../../adapters/kit/mapping/shared-tables';

export const DEPARTMENTS = ['market-regulation', 'vehicle-office', 'tax-bureau'] as const;
export type DepartmentId = (typeof DEPARTMENTS)[number];

let shared: SharedTables | undefined;

/** The registry and the item catalogue, read once. */
export function sharedTables(): SharedTables {
  return (shared ??= sharedTablesFor());
}

export function department(id: DepartmentId, overrides?: Record<string, unknown>): { def: AdapterDefinition; profile: MappingProfile } {
  const def = loadAdapterDefinition(path.join(ADAPTERS_DIR, id), overrides);
  return { def, profile: MappingProfile.fromFile(def.mapping, sharedTables()) };
}

const samples = new Map<DepartmentId, Promise<{ records: unknown[]; batch: Record<string, unknown> }>>();

/** The records of a department's sample inputs (as its transport splits them), with the batch attributes of the last. */
export function sampleRecords(id: DepartmentId): Promise<{ records: unknown[]; batch: Record<string, unknown> }> {
  let found = samples.get(id);
  if (!found) {
    found = (async () => {
      const { def } = department(id);
      const reader = readerFor(def);
      const names = sampleInputs(fs.readdirSync(def.samples), def.transport.options as Record<string, unknown>);
      const records: unknown[] = [];
      let batch: Record<string, unknown> = {};
      for (const name of names) {
        const parts = await reader.split(rawFromFile(def.id, path.join(def.samples, name)));
        if (!parts) continue;
        records.push(...parts.records);
        batch = parts.batch ?? batch;
      }
      return { records, batch };
    })();
    samples.set(id, found);
  }
  return found;
}
