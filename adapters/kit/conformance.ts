import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { CaseEvent } from '../../contracts/types';
import { loadAdapterDefinition, AdapterDefinition } from './definition';
import { MappingProfile, MapResult } from './mapping/engine';
import { loadSharedTables, SharedTables } from './mapping/shared-tables';
import { resolve as resolveTransport } from './transports';
import type { Transport } from './transports/base';
import type { RawMessage } from '../../core/ports/inbox';
import { HubMetrics } from '../../core/kernel/metrics';
import { createLogger } from '../../core/kernel/logger';
import { CONTRACTS_DIR } from '../../core/kernel/paths';

/**
 * What `hub adapter new` writes where the department system's name belongs when it was not given;
 * `hub adapter test` refuses a folder that still carries it.
 */
export const NAME_PLACEHOLDER = 'TODO: the department system\'s name (hub adapter new --name)';

/** What one record of a sample is expected to become. */
export type ExpectedRecord = { events: unknown[] } | { rejected: { field: string; rule: string; reason?: string } };

export interface SampleResult {
  sample: string;
  ok: boolean;
  /** Human-readable differences, one line each. */
  problems: string[];
}

const NOT_SAMPLES = /(^README|\.md$|\.expected\.json$|^\.)/i;

/**
 * The marker files a transport's options name (a file drop's `markerSuffix`, its receipt's): a
 * sample folder keeps them beside the files they complete, and they are not samples themselves.
 */
export function markerSuffixes(options: Record<string, unknown> | undefined): string[] {
  const out = new Set<string>(['.ok']);
  const visit = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === 'markerSuffix' && typeof x === 'string' && x) out.add(x);
      else visit(x);
    }
  };
  visit(options);
  return [...out];
}

/** The sample inputs of a samples folder: not its docs, expected outputs or marker files. */
export function sampleInputs(names: string[], options?: Record<string, unknown>): string[] {
  const markers = markerSuffixes(options).map((m) => m.toLowerCase());
  return names.filter((f) => !NOT_SAMPLES.test(f) && !markers.some((m) => f.toLowerCase().endsWith(m))).sort();
}

export function sharedTablesFor(): SharedTables {
  return loadSharedTables(path.join(CONTRACTS_DIR, 'registry.yaml'), path.join(CONTRACTS_DIR, 'catalogue.yaml'));
}

/**
 * A transport built only to read bytes (split a sample into records); it never serves, stores or
 * applies anything.
 */
export function readerFor(def: AdapterDefinition): Transport {
  const logger = createLogger('silent');
  const unavailable = new Proxy({}, { get: () => { throw new Error('reading a sample needs no store or intake'); } });
  return resolveTransport(def.transport, { adapter: def, intake: unavailable as never, leases: unavailable as never, cursors: unavailable as never, files: unavailable as never, logger, metrics: new HubMetrics(), config: unavailable as never });
}

export function rawFromFile(adapter: string, file: string): RawMessage {
  const body = fs.readFileSync(file);
  const ext = path.extname(file).toLowerCase();
  return {
    id: `sample:${path.basename(file)}`, adapter, receivedAt: new Date(), body, headers: { 'x-sample-file': path.basename(file) },
    contentType: ext === '.json' ? 'application/json' : ext === '.xml' ? 'text/xml' : null,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

/** Maps every record of an input file with the adapter's profile: what `hub map` prints. */
export async function mapFile(def: AdapterDefinition, profile: MappingProfile, file: string): Promise<MapResult[]> {
  const raw = rawFromFile(def.id, file);
  const parts = await readerFor(def).split(raw);
  if (!parts) throw new Error(`${file}: the ${def.transport.type} transport cannot read this file as a message of ${def.id}`);
  const out: MapResult[] = [];
  for (let i = 0; i < parts.records.length; i++) out.push(await profile.mapRecord(parts.records[i], { rawMessageId: raw.id, recordIndex: i, batch: parts.batch }));
  return out;
}

/** What a sample's expected file compares: the event without what depends on the run or the profile's edit. */
export function comparable(e: CaseEvent): unknown {
  const { rawMessageId: _r, profileVersion: _v, ...provenance } = e.data.provenance;
  return { ...e, data: { ...e.data, provenance } };
}

export function toExpected(results: MapResult[]): { records: ExpectedRecord[] } {
  return {
    records: results.map((r) => (r.ok ? { events: [comparable(r.event)] } : { rejected: { field: r.failure.field, rule: r.failure.rule, reason: r.failure.reason } })),
  };
}

function expectedFileFor(sample: string): string | null {
  const candidates = [sample.replace(/\.[^.]+$/, '') + '.expected.json', sample + '.expected.json'];
  return candidates.find((c) => fs.existsSync(c)) ?? null;
}

function readExpected(file: string): ExpectedRecord[] {
  const v = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (Array.isArray(v?.records)) return v.records;
  if (v?.events || v?.rejected) return [v];
  throw new Error(`${file}: expected {"records": [...]} or a single {"events": [...]} / {"rejected": {...}}`);
}

/** Every path where two JSON values differ, as readable lines. */
export function diff(expected: unknown, actual: unknown, at = ''): string[] {
  if (JSON.stringify(expected) === JSON.stringify(actual)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === 'object';
  if (isObj(expected) && isObj(actual) && Array.isArray(expected) === Array.isArray(actual)) {
    const keys = new Set([...Object.keys(expected as object), ...Object.keys(actual as object)]);
    return [...keys].sort().flatMap((k) => diff((expected as any)[k], (actual as any)[k], Array.isArray(expected) ? `${at}[${k}]` : at ? `${at}.${k}` : k));
  }
  const show = (v: unknown) => (v === undefined ? '(absent)' : JSON.stringify(v));
  return [`${at || '(root)'}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Where a scaffolded folder still carries the name placeholder: it is not ready to deploy. */
function placeholderProblems(def: AdapterDefinition): string[] {
  const out: string[] = [];
  if (def.name.includes(NAME_PLACEHOLDER)) out.push(`adapter.yaml: name is still the placeholder "${NAME_PLACEHOLDER}": write the department system's name`);
  const readme = path.join(def.dir, 'README.md');
  if (fs.existsSync(readme) && fs.readFileSync(readme, 'utf8').includes(NAME_PLACEHOLDER)) out.push(`README.md: still carries the placeholder "${NAME_PLACEHOLDER}": write the department system's name`);
  return out;
}

/**
 * The conformance run of one department folder: every sample input mapped with the folder's
 * profile and compared with its expected output file.
 */
export async function runConformance(dir: string, shared: SharedTables = sharedTablesFor()): Promise<SampleResult[]> {
  const def = loadAdapterDefinition(path.resolve(dir));
  const profile = MappingProfile.fromFile(def.mapping, shared);
  const placeholders = placeholderProblems(def);
  if (placeholders.length) return [{ sample: 'adapter.yaml', ok: false, problems: placeholders }];
  if (!fs.existsSync(def.samples)) return [{ sample: def.samples, ok: false, problems: ['no samples folder'] }];
  const samples = sampleInputs(fs.readdirSync(def.samples), def.transport.options as Record<string, unknown> | undefined);
  if (!samples.length) return [{ sample: def.samples, ok: false, problems: ['no sample inputs'] }];
  const results: SampleResult[] = [];
  for (const name of samples) {
    const file = path.join(def.samples, name);
    const expectedFile = expectedFileFor(file);
    if (!expectedFile) {
      results.push({ sample: name, ok: false, problems: [`no expected output (${name.replace(/\.[^.]+$/, '')}.expected.json)`] });
      continue;
    }
    try {
      const expected = readExpected(expectedFile);
      const actual = toExpected(await mapFile(def, profile, file)).records;
      const problems: string[] = [];
      if (expected.length !== actual.length) problems.push(`records: expected ${expected.length}, got ${actual.length}`);
      for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
        const e = expected[i] as any;
        const a = actual[i] as any;
        // A rejection's reason text is documentation; field and rule are the contract.
        const eCmp = e?.rejected ? { rejected: { field: e.rejected.field, rule: e.rejected.rule } } : e;
        const aCmp = a?.rejected ? { rejected: { field: a.rejected.field, rule: a.rejected.rule } } : a;
        for (const line of diff(eCmp, aCmp)) problems.push(`record ${i + 1}: ${line}${a?.rejected && !e?.rejected ? ` (${a.rejected.reason})` : ''}`);
      }
      results.push({ sample: name, ok: problems.length === 0, problems });
    } catch (err) {
      results.push({ sample: name, ok: false, problems: [(err as Error).message] });
    }
  }
  return results;
}
