import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { ConfigError } from '../../services/hub/errors';
import { loadAdapterDefinition } from './definition';
import { MappingProfile } from './mapping/engine';
import { mapFile, toExpected, sharedTablesFor } from './conformance';

/** How a transport is scaffolded: its options and a sample message holding the given records. */
export interface TransportScaffold {
  options(id: string): Record<string, unknown>;
  sample(records: Record<string, unknown>[]): { file: string; content: Buffer };
  /** The transport's own README paragraph for the new folder. */
  notes: string;
}

const scaffolds = new Map<string, TransportScaffold>();

export function registerScaffold(kind: string, s: TransportScaffold): void {
  scaffolds.set(kind, s);
}

export function scaffoldKinds(): string[] {
  return [...scaffolds.keys()];
}

registerScaffold('rest', {
  options: (id) => ({
    path: `/api/v1/inbound/${id}`,
    maxBodyBytes: 5242880,
    signature: {
      keyIdHeader: 'X-Hub-Key-Id', timestampHeader: 'X-Hub-Timestamp', signatureHeader: 'X-Hub-Signature', prefix: 'sha256=', maxSkewSeconds: 300,
      keys: { [`${id}-key`]: `change-me-${randomBytes(12).toString('hex')}` },
    },
    batch: { recordsPath: 'events', idPath: 'eventId', minRecords: 1, maxRecords: 500 },
  }),
  sample: (records) => ({ file: 'example-01.json', content: Buffer.from(JSON.stringify({ batchId: 'example-01', events: records }, null, 2) + '\n') }),
  notes: 'The department POSTs JSON batches `{"batchId", "events": [...]}` signed with HMAC-SHA256 over `timestamp.body`; each event is one record of the mapping profile.',
});

/**
 * Creates a department folder that passes `hub adapter test` as generated: a definition, a
 * profile, one sample with its expected output, and a README explaining each field. The engineer
 * then replaces the example fields and codes with the department's own.
 */
export async function scaffoldAdapter(parent: string, id: string, kind: string, opts: { department?: string } = {}): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new ConfigError(`adapter id ${JSON.stringify(id)} must be lower-case letters, digits and dashes`);
  const s = scaffolds.get(kind);
  if (!s) throw new ConfigError(`unknown transport ${JSON.stringify(kind)}; known: ${scaffoldKinds().join(', ')}`);
  const dir = path.join(parent, id);
  if (fs.existsSync(dir)) throw new ConfigError(`${dir} already exists`);
  const shared = sharedTablesFor();
  const dept = opts.department
    ? (() => { const r = shared.resolver.resolve(opts.department!); if (!r.ok) throw new ConfigError(`department ${opts.department} is not in the registry`); return r.value; })()
    : shared.registry.departments.find((d) => [...shared.items.values()].some((i) => i.department === d.code));
  if (!dept) throw new ConfigError('the registry has no department with catalogue items');
  const items = [...shared.items.values()].filter((i) => i.department === dept.code);
  if (!items.length) throw new ConfigError(`the catalogue has no items of ${dept.name}`);

  fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
  const definition = {
    id, name: `${dept.name} (${id})`,
    transport: { type: kind, options: s.options(id) },
    mapping: 'mapping.yaml', samples: 'samples',
  };
  fs.writeFileSync(path.join(dir, 'adapter.yaml'), `# Transport and credentials of ${id}; the options are checked against the ${kind} transport's schema.\n` + YAML.stringify(definition));

  const profile = {
    adapter: id,
    description: `${id} records → canonical case events`,
    department: dept.code,
    eventKey: ['eventId'],
    fields: {
      localCaseId: { from: 'caseNo', label: '业务编号' },
      supervisionCode: { from: 'supervisionCode', optional: true },
      status: { from: 'status', table: 'status', label: '办理状态' },
      item: { from: 'itemCode', table: 'items', label: '事项编码' },
      statusTime: { from: 'statusTime', normalise: 'localTime', format: 'yyyy-MM-dd HH:mm:ss', label: '状态时间' },
      applicantName: { from: 'applicant.name', normalise: 'personName', label: '申请人名称' },
      applicantIdType: { from: 'applicant.idType', table: 'idTypes', label: '证件类型' },
      applicantIdNumber: { from: 'applicant.idNumber', label: '证件号码' },
      applicantPhone: { from: 'applicant.phone', normalise: 'phone', optional: true, label: '联系电话' },
      officer: { from: 'officer', optional: true },
      remark: { from: 'remark', optional: true },
    },
    tables: {
      status: { '01': { value: 'SUBMITTED', label: '已申请' }, '02': { value: 'ACCEPTED', label: '已受理' }, '09': { value: 'COMPLETED', label: '已办结' } },
      items: { 'ITEM-001': items[0].code },
      idTypes: { ID: 'CITIZEN_ID', USCC: 'USCC', PASSPORT: 'PASSPORT' },
    },
  };
  fs.writeFileSync(path.join(dir, 'mapping.yaml'), '# Mapping profile: where each canonical field comes from, which table translates it, which normaliser checks it.\n' + YAML.stringify(profile));

  const records = [
    { eventId: randomUUID(), caseNo: 'EXAMPLE-0001', itemCode: 'ITEM-001', status: '02', statusTime: '2026-11-24 09:30:00',
      applicant: { name: '王建国', idType: 'ID', idNumber: '130102198503120412', phone: '138 3311 0425' }, officer: '李明', remark: null, supervisionCode: null },
    // A deliberately wrong check digit: the sample shows a refusal too.
    { eventId: randomUUID(), caseNo: 'EXAMPLE-0002', itemCode: 'ITEM-001', status: '01', statusTime: '2026-11-24 10:00:00',
      applicant: { name: '刘芳', idType: 'ID', idNumber: '130105197806241284', phone: null }, officer: null, remark: null, supervisionCode: null },
  ];
  const sample = s.sample(records);
  const sampleFile = path.join(dir, 'samples', sample.file);
  fs.writeFileSync(sampleFile, sample.content);
  const def = loadAdapterDefinition(dir);
  const expected = toExpected(await mapFile(def, MappingProfile.fromFile(def.mapping, shared), sampleFile));
  fs.writeFileSync(sampleFile.replace(/\.[^.]+$/, '') + '.expected.json', JSON.stringify(expected, null, 2) + '\n');

  fs.writeFileSync(path.join(dir, 'README.md'), readme(id, kind, dept.name, s.notes, sample.file));
  return dir;
}

function readme(id: string, kind: string, department: string, notes: string, sampleFile: string): string {
  return `# ${id}

Department: ${department}. Transport: \`${kind}\`. ${notes}

## Files

- \`adapter.yaml\` — the transport and its options (endpoint, credentials, limits). The options are
  checked against the transport's JSON Schema when the hub loads the folder; replace the generated
  credentials with the ones agreed with the department.
- \`mapping.yaml\` — the mapping profile. Under \`fields\`, each canonical field names where its value
  comes from in one record (\`from\`: a dotted path, or a JSONata expression; \`$batch.X\` reads an
  attribute of the enclosing batch), the code table that translates it (\`table\`), the normaliser that
  checks it (\`normalise\`: citizenId, uscc, mobile, phone, personName, localTime), whether it may be
  empty (\`optional\`), and how the department names it (\`field\`, \`label\`: used in every refusal).
  \`eventKey\` lists the fields that identify one status change for ever: the event id derives from
  them, so a re-sent record is answered as a duplicate. \`tables\` holds the department's codes:
  \`status\` → canonical statuses, \`items\` → catalogue items, \`idTypes\` → CITIZEN_ID, USCC, PASSPORT.
  \`department\` is the canonical organ the records belong to (omit it once the registry lists
  \`${id}\` under that department's \`systems\`).
- \`samples/${sampleFile}\` — a message as the department sends it, and
  \`samples/${sampleFile.replace(/\.[^.]+$/, '')}.expected.json\` — the canonical events it must give (or the refusal, with
  the field and rule). Replace them with the department's real samples and write the expected
  output from its specification; \`hub map ${id} <file>\` prints what the profile makes of a file.

## Check

    npx hub adapter test adapters/${id}
`;
}
