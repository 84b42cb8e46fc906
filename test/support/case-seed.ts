import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { CONTRACTS_DIR } from '../../core/kernel/paths';

/** Events of each seeded case: its submission and its current status. */
export const EVENTS_PER_CASE = 2;

/**
 * Seeded cases by current status, per mille: most are accepted, under review or completed, and the
 * rarest statuses still hold one case in two hundred.
 */
export const STATUS_MIX: readonly [string, number][] = [
  ['SUBMITTED', 60], ['ACCEPTED', 200], ['UNDER_REVIEW', 150], ['SUPPLEMENT_REQUESTED', 30], ['SUPPLEMENTED', 10], ['SUSPENDED', 10],
  ['RESUMED', 5], ['APPROVED', 40], ['DENIED', 10], ['REJECTED', 20], ['COMPLETED', 380], ['DELIVERED', 80], ['WITHDRAWN', 5],
];

/** The departments, halls and items of the contracts' registry and catalogue (what a list may be filtered by). */
export function registryCodes(): { departments: string[]; halls: string[]; items: string[] } {
  const registry = YAML.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'registry.yaml'), 'utf8'));
  const catalogue = YAML.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'catalogue.yaml'), 'utf8'));
  const departments = registry.departments as { code: string; halls?: { code: string }[] }[];
  return {
    departments: departments.map((d) => d.code),
    halls: departments.flatMap((d) => (d.halls ?? []).map((h) => h.code)),
    items: (catalogue.items as { code: string }[]).map((i) => i.code),
  };
}

/** What a seeded case can be: a department's system, the department (and hall), and one of its items. */
interface SeedKind {
  /** How many of every 10,000 cases are of this kind. */
  share: number;
  system: string;
  department_code: string;
  department_name: string;
  hall_code: string | null;
  hall_name: string | null;
  item_code: string;
  item_name: string;
}

/**
 * Every (system, department or hall, item) the contracts' registry and catalogue allow. Each
 * department with a system has an equal share of the cases, split evenly between its halls; within
 * it, each item in catalogue order is a tenth as common as the one before, so that the last ones are
 * applied for two or three times in ten thousand, as a catalogue's rarer items are.
 */
function seedKinds(): SeedKind[] {
  const registry = YAML.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'registry.yaml'), 'utf8'));
  const catalogue = YAML.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'catalogue.yaml'), 'utf8'));
  const departments = (registry.departments as { code: string; name: string; systems?: string[]; halls?: { code: string; name: string }[] }[]).filter((d) => d.systems?.length);
  const kinds: SeedKind[] = [];
  for (const d of departments) {
    const items = (catalogue.items as { code: string; name: string; department: string }[]).filter((i) => i.department === d.code);
    const halls = d.halls?.length ? d.halls : [null];
    const weights = items.map((_, j) => 0.1 ** j);
    const total = weights.reduce((a, b) => a + b, 0) * halls.length * d.systems!.length;
    for (const system of d.systems!) for (const hall of halls) items.forEach((item, j) => {
      kinds.push({
        share: Math.max(1, Math.round((10_000 / departments.length) * (weights[j] / total))), system, department_code: d.code, department_name: d.name,
        hall_code: hall?.code ?? null, hall_name: hall?.name ?? null, item_code: item.code, item_name: item.name,
      });
    });
  }
  return kinds;
}

/**
 * Fills a store (migrated, empty) as a city's would be after a year or two: `cases` cases spread over
 * 600 days, each with its reference, EVENTS_PER_CASE events and the raw message they came in; a
 * status mix in which cases are mostly accepted, under review or completed; lights; one open dead
 * letter per hundred cases. Written with set-based SQL (seconds, not minutes), then analysed.
 */
export async function seedCases(url: string, cases: number): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    // One row per ten-thousandth: its kind.
    await c.query(`CREATE TEMP TABLE seed_kinds (share int, system text, department_code text, department_name text,
      hall_code text, hall_name text, item_code text, item_name text) ON COMMIT DROP`);
    await c.query('INSERT INTO seed_kinds SELECT * FROM json_populate_recordset(NULL::seed_kinds, $1::json)', [JSON.stringify(seedKinds())]);
    await c.query(`CREATE TEMP TABLE seed_kind_of ON COMMIT DROP AS
      SELECT (row_number() OVER () - 1)::int AS b, k.* FROM seed_kinds k CROSS JOIN generate_series(1, k.share)`);
    // One row per mille: its status.
    await c.query('CREATE TEMP TABLE seed_statuses (m int PRIMARY KEY, status text) ON COMMIT DROP');
    await c.query('INSERT INTO seed_statuses SELECT ordinality - 1, s FROM unnest($1::text[]) WITH ORDINALITY AS s',
      [STATUS_MIX.flatMap(([status, perMille]) => Array<string>(perMille).fill(status))]);
    // i: the case; its kind, code, local id, times and status follow from i.
    await c.query(`CREATE TEMP TABLE seed_cases ON COMMIT DROP AS
      SELECT i, k.*, '130100' || to_char(date '2025-03-01' + (i * 600 / $1), 'YYYYMMDD') || lpad(i::text, 9, '0') || 'X' AS code,
        upper(left(k.system, 2)) || '1301' || lpad(i::text, 12, '0') AS local_id,
        md5('raw' || i)::uuid::text AS raw_id,
        timestamptz '2025-03-01 08:00:00+08' + (i * interval '600 days' / $1) AS t,
        st.status,
        (ARRAY['GREEN','GREEN','GREEN','GREEN','GREEN','GREEN','YELLOW','RED', NULL, NULL])[1 + (i::bigint * 104729) % 10] AS light
      FROM generate_series(1, $1::int) AS i JOIN seed_kind_of k ON k.b = (i::bigint * 104723) % (SELECT count(*) FROM seed_kind_of)
        JOIN seed_statuses st ON st.m = (i::bigint * 7919) % 1000`, [cases]);
    await c.query(`INSERT INTO inbox (id, adapter, received_at, content_type, headers, body, sha256, state, records, result, processed_at)
      SELECT raw_id, system, t, 'application/json', '{}'::jsonb, convert_to(repeat('{"caseNo":"' || local_id || '"}', 6), 'UTF8'),
        encode(sha256(raw_id::bytea), 'hex'), 'processed', ${EVENTS_PER_CASE}, '[]'::jsonb, t FROM seed_cases`);
    await c.query('INSERT INTO case_refs (system, local_id, supervision_code, created_at) SELECT system, local_id, code, t FROM seed_cases');
    await c.query(`INSERT INTO events (id, seq, supervision_code, adapter, raw_message_id, status, status_time, received_at, applied_at, body)
      SELECT md5(s.code || n)::uuid::text, (s.i - 1) * ${EVENTS_PER_CASE} + n, s.code, s.system, s.raw_id,
        CASE WHEN n = 1 THEN 'SUBMITTED' ELSE s.status END, s.t + n * interval '1 hour', s.t, s.t,
        json_build_object('specversion', '1.0', 'type', 'gov.case.status.v1', 'time', s.t, 'data', json_build_object(
          'department', json_build_object('code', s.department_code, 'name', s.department_name), 'item', json_build_object('code', s.item_code, 'name', s.item_name),
          'localCaseId', s.local_id, 'system', s.system, 'status', CASE WHEN n = 1 THEN 'SUBMITTED' ELSE s.status END, 'statusTime', s.t + n * interval '1 hour'))
      FROM seed_cases s CROSS JOIN generate_series(1, ${EVENTS_PER_CASE}) AS n`);
    await c.query(`INSERT INTO cases (supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status, status_time,
        applicant, light, deadline, paused, violations, event_count, first_seen, updated_at, timeline)
      SELECT code, department_code, department_name, hall_code, hall_name, item_code, item_name, status, t + interval '${EVENTS_PER_CASE} hours',
        json_build_object('kind', 'PERSON', 'name', '张建国', 'idType', 'CITIZEN_ID', 'idNumber', '130102198503120412', 'mobile', '13833110425'),
        light, CASE WHEN status <> 'SUBMITTED' THEN t + interval '10 days' END, status = 'SUPPLEMENT_REQUESTED', '[]'::json, ${EVENTS_PER_CASE}, t, t,
        (SELECT json_agg(json_build_array(md5(code || n)::uuid::text, (i - 1) * ${EVENTS_PER_CASE} + n, CASE WHEN n = 1 THEN 'SUBMITTED' ELSE status END,
           t + n * interval '1 hour', CASE WHEN hall_code IS NULL THEN NULL ELSE json_build_object('code', hall_code, 'name', hall_name) END) ORDER BY n)
         FROM generate_series(1, ${EVENTS_PER_CASE}) AS n)
      FROM seed_cases`);
    await c.query(`INSERT INTO dead_letters (id, adapter, raw_message_id, record_index, record, reason, rule, field, value, received_at, event_id)
      SELECT md5('dl' || i)::uuid::text, system, raw_id, 0, '{}'::jsonb, '身份证号码校验位错误 (bad check digit)', 'check-digit', 'idNumber', 'x', t,
        md5('dl-event' || i)::uuid::text FROM seed_cases WHERE i % 100 = 0`);
    // Values the hub takes from the sequence lie above every seeded one.
    await c.query("SELECT setval('events_seq_seq', $1::bigint)", [cases * EVENTS_PER_CASE + 1]);
    await c.query('COMMIT');
    await c.query('ANALYZE');
  } finally {
    await c.end();
  }
}

/** Per case, the department statistics' counters, as the supervisor keeps them (case_stats). */
export async function fillCaseStats(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`
      INSERT INTO case_stats (department_code, hall_code, day, department_name, hall_name, received, in_progress, completed, on_time, green, yellow, red)
      SELECT department_code, COALESCE(hall_code, ''), (first_seen AT TIME ZONE 'Asia/Shanghai')::date, max(department_name), max(hall_name), count(*),
             count(*) FILTER (WHERE status NOT IN ('COMPLETED', 'DELIVERED')), count(*) FILTER (WHERE status IN ('COMPLETED', 'DELIVERED')),
             count(*) FILTER (WHERE status IN ('COMPLETED', 'DELIVERED') AND light <> 'RED'),
             count(*) FILTER (WHERE light = 'GREEN'), count(*) FILTER (WHERE light = 'YELLOW'), count(*) FILTER (WHERE light = 'RED')
      FROM cases GROUP BY 1, 2, 3`);
    await c.query('ANALYZE case_stats');
  } finally {
    await c.end();
  }
}
