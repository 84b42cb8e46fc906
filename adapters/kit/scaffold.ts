import fs from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { ConfigError } from '../../core/kernel/errors';
import { loadAdapterDefinition } from './definition';
import { MappingProfile } from './mapping/engine';
import { mapFile, toExpected, sharedTablesFor, NAME_PLACEHOLDER } from './conformance';

/** How a transport is scaffolded: its options and a sample message holding the given records. */
export interface TransportScaffold {
  /** The transport type adapter.yaml names, when it differs from the scaffold's name. */
  transportType?: string;
  options(id: string, opts: ScaffoldOptions): Record<string, unknown>;
  sample(records: Record<string, unknown>[], id: string): { file: string; content: Buffer };
  /** Further files of the folder (a WSDL), by name. */
  files?(id: string): Record<string, string>;
  /** The transport's own README paragraph for the new folder. */
  notes(opts: ScaffoldOptions): string;
}

/** What `hub adapter new` is told about the department. */
export interface ScaffoldOptions {
  /** The department system's name (adapter.yaml `name`, the README); a placeholder when not given. */
  name?: string;
  /** The canonical department: a code, name or alias of contracts/registry.yaml. */
  department?: string;
  /** The file drop's marker suffix (`.ok` when not given). */
  marker?: string;
}

const xmlEscape = (v: unknown) => String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One record as XML elements (nested objects as nested elements; nulls left out). */
function recordXml(record: Record<string, unknown>, indent: string, prefix = ''): string {
  return Object.entries(record)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => (typeof v === 'object'
      ? `${indent}<${prefix}${k}>\n${recordXml(v as Record<string, unknown>, indent + '  ', prefix)}${indent}</${prefix}${k}>\n`
      : `${indent}<${prefix}${k}>${xmlEscape(v)}</${prefix}${k}>\n`))
    .join('');
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
  notes: () => 'The department POSTs JSON batches `{"batchId", "events": [...]}` signed with HMAC-SHA256 over `timestamp.body`; each event is one record of the mapping profile.',
});

const soapNs = (id: string) => `urn:hub:adapter:${id}:v1`;
const soapPassword = new Map<string, string>();
const passwordOf = (id: string) => {
  if (!soapPassword.has(id)) soapPassword.set(id, `change-me-${randomBytes(9).toString('hex')}`);
  return soapPassword.get(id)!;
};

registerScaffold('soap', {
  options: (id) => ({
    wsdl: 'exchange.wsdl',
    push: {
      path: `/soap/${id}`, service: 'ReportService', port: 'ReportPort', operation: 'ReportStatus',
      requestElement: 'ReportStatusRequest', responseElement: 'ReportStatusResponse', soapAction: `${soapNs(id)}#ReportStatus`,
      maxBodyBytes: 1048576, encodings: ['utf-8', 'gbk', 'gb18030'],
      auth: { scheme: 'wsse-username-token', senders: { [`${id}-sender`]: { password: passwordOf(id) } } },
      answer: {
        codeField: 'code', messageField: 'message', caseCodeField: 'caseCode',
        codes: { accepted: 1, duplicate: 1, rejected: -1, retry: -9 },
        messages: { accepted: '接收成功', duplicate: '重复报送，此前已接收', retry: '暂时无法处理，请稍后重试' },
      },
    },
  }),
  // One request is one record: the sample is the first record's request.
  sample: (records, id) => ({
    file: 'example-01.xml',
    content: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="${soapNs(id)}">
  <soapenv:Header>
    <wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:UsernameToken>
        <wsse:Username>${id}-sender</wsse:Username>
        <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">${passwordOf(id)}</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body>
    <t:ReportStatusRequest>
${recordXml(records[0], '      ', 't:')}    </t:ReportStatusRequest>
  </soapenv:Body>
</soapenv:Envelope>
`),
  }),
  files: (id) => ({
    'exchange.wsdl': `<?xml version="1.0" encoding="UTF-8"?>
<!-- Example contract: replace it with the department's own WSDL and name its elements in adapter.yaml. -->
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
                  xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:t="${soapNs(id)}" targetNamespace="${soapNs(id)}" name="Exchange">
  <wsdl:types>
    <xs:schema targetNamespace="${soapNs(id)}" elementFormDefault="qualified">
      <xs:complexType name="Applicant">
        <xs:sequence>
          <xs:element name="name" type="xs:string"/>
          <xs:element name="idType" type="xs:string"/>
          <xs:element name="idNumber" type="xs:string"/>
          <xs:element name="phone" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:complexType name="CaseStatus">
        <xs:sequence>
          <xs:element name="eventId" type="xs:string"/>
          <xs:element name="caseNo" type="xs:string"/>
          <xs:element name="itemCode" type="xs:string"/>
          <xs:element name="status" type="xs:string"/>
          <xs:element name="statusTime" type="xs:string"/>
          <xs:element name="applicant" type="t:Applicant"/>
          <xs:element name="officer" type="xs:string" minOccurs="0"/>
          <xs:element name="remark" type="xs:string" minOccurs="0"/>
          <xs:element name="supervisionCode" type="xs:string" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
      <xs:element name="ReportStatusRequest" type="t:CaseStatus"/>
      <xs:element name="ReportStatusResponse">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="code" type="xs:int"/>
            <xs:element name="message" type="xs:string"/>
            <xs:element name="caseCode" type="xs:string" minOccurs="0"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:schema>
  </wsdl:types>
  <wsdl:message name="ReportStatusInput"><wsdl:part name="body" element="t:ReportStatusRequest"/></wsdl:message>
  <wsdl:message name="ReportStatusOutput"><wsdl:part name="body" element="t:ReportStatusResponse"/></wsdl:message>
  <wsdl:portType name="ReportPortType">
    <wsdl:operation name="ReportStatus">
      <wsdl:input message="t:ReportStatusInput"/>
      <wsdl:output message="t:ReportStatusOutput"/>
    </wsdl:operation>
  </wsdl:portType>
  <wsdl:binding name="ReportBinding" type="t:ReportPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
    <wsdl:operation name="ReportStatus">
      <soap:operation soapAction="${soapNs(id)}#ReportStatus"/>
      <wsdl:input><soap:body use="literal"/></wsdl:input>
      <wsdl:output><soap:body use="literal"/></wsdl:output>
    </wsdl:operation>
  </wsdl:binding>
  <wsdl:service name="ReportService">
    <wsdl:port name="ReportPort" binding="t:ReportBinding">
      <soap:address location="http://localhost:8080/soap/${id}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`,
  }),
  notes: () => 'The department calls the SOAP 1.1 operation `ReportStatus` of `exchange.wsdl` on the hub, one status change per request, with a WS-Security UsernameToken; the answer carries `code`, `message` and `caseCode` (the supervision code). Replace the example WSDL with the department\'s own and name its service, port, operation, elements, senders and answer codes in `adapter.yaml`.',
});

const markerOf = (opts: ScaffoldOptions) => opts.marker ?? '.ok';

registerScaffold('file', {
  transportType: 'file-drop',
  options: (_id, opts) => ({
    inbox: 'inbox',
    pattern: '^EXAMPLE_\\d{14}_\\d{4}\\.xml$',
    markerSuffix: markerOf(opts),
    pollIntervalMs: 1000,
    maxFileBytes: 268435456,
    encodings: ['GB18030', 'GBK', 'UTF-8'],
    fallbackEncoding: 'UTF-8',
    batch: { element: 'Batch', record: 'Record', countAttribute: 'count' },
    archive: { retentionDays: 30 },
  }),
  sample: (records) => ({
    file: 'EXAMPLE_20261124093000_0001.xml',
    content: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<Batch batchNo="20261124093000001" count="${records.length}">
${records.map((r) => `  <Record>\n${recordXml(r, '    ')}  </Record>\n`).join('')}</Batch>
`),
  }),
  notes: (opts) => `The department writes XML batch files into \`<HUB_DATA_DIR>/drop/<id>/inbox/\`, then an empty \`<name>${markerOf(opts)}\` marker (\`markerSuffix\`); the hub reads each file as a stream, checks its record count against the \`count\` attribute (a file that fails applies nothing), applies or refuses each \`Record\`, and archives the file outside the inbox. Add a \`receipt\` section to adapter.yaml when the department expects a receipt file back (see adapters/tax-bureau).`,
});

/**
 * Creates a department folder that passes `hub adapter test` as generated: a definition, a
 * profile, one sample with its expected output, and a README explaining each field. The engineer
 * then replaces the example fields and codes with the department's own.
 */
export async function scaffoldAdapter(parent: string, id: string, kind: string, opts: ScaffoldOptions = {}): Promise<string> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new ConfigError(`adapter id ${JSON.stringify(id)} must be lower-case letters, digits and dashes`);
  const s = scaffolds.get(kind);
  if (!s) throw new ConfigError(`unknown transport ${JSON.stringify(kind)}; known: ${scaffoldKinds().join(', ')}`);
  const dir = path.join(parent, id);
  if (fs.existsSync(dir)) throw new ConfigError(`${dir} already exists`);
  if (opts.marker !== undefined && !/^\.[\w.-]+$/.test(opts.marker)) throw new ConfigError(`marker ${JSON.stringify(opts.marker)} must be a file name suffix such as .ok or .done`, { field: 'marker', value: opts.marker });
  const shared = sharedTablesFor();
  // The department is never guessed: a guess files the new department's cases under another organ.
  const asked = opts.department ?? (opts.name && shared.resolver.resolve(opts.name).ok ? opts.name : undefined);
  if (!asked) {
    throw new ConfigError(`name the department ${id} reports for: --department <code or name in contracts/registry.yaml> (add it to the registry first if it is not there)`, { adapter: id, field: 'department' });
  }
  const found = shared.resolver.resolve(asked);
  if (!found.ok) throw new ConfigError(`department ${JSON.stringify(asked)} is not in contracts/registry.yaml: add it there, or give its code or one of its names`, { adapter: id, field: 'department', value: asked });
  const dept = found.value;
  const items = [...shared.items.values()].filter((i) => i.department === dept.code);
  if (!items.length) throw new ConfigError(`the catalogue (contracts/catalogue.yaml) has no items of ${dept.name}: add the department's items first`, { adapter: id, field: 'department', value: dept.code });
  const name = opts.name?.trim() || NAME_PLACEHOLDER;

  fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
  const definition = {
    id, name,
    transport: { type: s.transportType ?? kind, options: s.options(id, opts) },
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
  for (const [name, text] of Object.entries(s.files?.(id) ?? {})) fs.writeFileSync(path.join(dir, name), text);
  const sample = s.sample(records, id);
  const sampleFile = path.join(dir, 'samples', sample.file);
  fs.writeFileSync(sampleFile, sample.content);
  const def = loadAdapterDefinition(dir);
  const expected = toExpected(await mapFile(def, MappingProfile.fromFile(def.mapping, shared), sampleFile));
  fs.writeFileSync(sampleFile.replace(/\.[^.]+$/, '') + '.expected.json', JSON.stringify(expected, null, 2) + '\n');

  fs.writeFileSync(path.join(dir, 'README.md'), readme(id, s.transportType ?? kind, name, dept, s.notes(opts), sample.file));
  return dir;
}

function readme(id: string, transportType: string, name: string, dept: { code: string; name: string }, notes: string, sampleFile: string): string {
  return `# ${id}: ${name}

Department: ${dept.name} (\`${dept.code}\` in contracts/registry.yaml). Transport: \`${transportType}\` (what it does, its options and its guarantees:
\`adapters/kit/transports/${transportType}/README.md\`). ${notes}

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
