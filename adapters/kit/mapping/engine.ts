import fs from 'node:fs';
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { compileCheck } from '../../../core/kernel/schema-check';
import jsonata from 'jsonata';
import type { CaseEvent, CanonicalStatus, Applicant } from '../../../contracts/types';
import { getNormaliser, Normaliser, NormaliserOptions } from '../../../core/identifiers';
import { parseSupervisionCode } from '../../../core/identifiers/supervision-code';
import { ConfigError } from '../../../core/kernel/errors';
import { CANONICAL_STATUSES, EVENT_TYPE, SOURCE_PREFIX } from '../../../core/kernel/constants';
import { validateCaseEvent } from '../../../contracts/validate';
import { eventId } from './event-id';
import type { SharedTables } from './shared-tables';
import profileSchema from './profile.schema.json';

import type { MappingFailure, MapResult, RecordContext, RecordMapper } from '../../../core/ports/mapping';
export type { MappingFailure, MapResult, RecordContext };

type Getter = (record: any, batch: Record<string, unknown>) => Promise<unknown> | unknown;

interface TableEntry { value: string; label?: string }

interface CompiledRule {
  when?: jsonata.Expression;
  get: Getter;
  table?: Map<string, TableEntry>;
  normaliser?: Normaliser;
  /** How the applicant's ID number is checked by its type, when the rule sets an option of those checks. */
  idChecks?: Record<Applicant['idType'], Normaliser>;
  optional: boolean;
  field: string;
  label: string;
}

// A path the engine reads itself, without JSONata: `SQR.XM`, `$batch.PCH`, and XML attributes as
// `@applyNo` (or their stored name `@_applyNo`), which JSONata would only take in backticks.
const SIMPLE_PATH = /^(\$batch\.)?@?[A-Za-z_]\w*(\.@?[A-Za-z_]\w*)*$/;
const FIELD_LABELS: Record<string, string> = {
  localCaseId: '业务编号', supervisionCode: '统一服务监管码', hall: '办理机构', status: '状态代码', statusLabel: '状态名称',
  item: '事项代码', statusTime: '状态时间', applicantName: '申请人名称', applicantIdType: '证件类型',
  applicantIdNumber: '证件号码', applicantPhone: '联系电话', officer: '经办人', remark: '备注',
};
function idChecks(options: NormaliserOptions = {}): Record<Applicant['idType'], Normaliser> {
  return {
    CITIZEN_ID: getNormaliser('citizenId', options),
    USCC: getNormaliser('uscc'),
    // Passports are not checked (the vehicle office's SPEC): trimmed and upper-cased only.
    PASSPORT: (input: string) => {
      const v = input.trim().toUpperCase();
      return v ? { ok: true, value: v } : { ok: false, rule: 'required', message: '缺失' };
    },
  };
}
const ID_NORMALISERS = idChecks();

/** The options a rule may hand to its normaliser, by the normaliser that takes them. */
const OPTION_OWNERS: Record<keyof NormaliserOptions, string> = { format: 'localTime', zone: 'localTime', legacy: 'citizenId' };

/**
 * The field's label followed by a normaliser's message, without saying a word twice where the
 * label ends as the message begins: 状态时间 + 时间格式错误 is 状态时间格式错误. Two characters at
 * least, as one alone can be chance (账号 + 号码…).
 */
export function withLabel(label: string, message: string): string {
  for (let n = Math.min(label.length, message.length); n >= 2; n--) {
    if (label.endsWith(message.slice(0, n))) return label + message.slice(n);
  }
  return label + message;
}

/** How the department names a field read by a path: `applicant.creditCode`, `PCH`, `applyNo`. */
function fieldName(path: string): string {
  return path.replace(/^\$batch\./, '').replace(/(^|\.)@_?/g, '$1');
}

const checkProfile = compileCheck(profileSchema);
// What PostgreSQL refuses in text and jsonb: a NUL, and (in jsonb) a UTF-16 surrogate without its
// partner. JSON can carry both (`\u0000`, `\ud800`); stored, they would fail the whole message's
// transaction, answered "try again later" for ever.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

class Refused extends Error {
  constructor(readonly failure: Omit<MappingFailure, 'adapter'>) { super(failure.reason); }
}

function pathGetter(path: string): Getter {
  const batch = path.startsWith('$batch.');
  // A record's attributes are stored as `@_name`; the batch's attributes by their plain name.
  const parts = (batch ? path.slice(7) : path).split('.').map((p, i) => (p.startsWith('@') ? (batch && i === 0 ? p.replace(/^@_?/, '') : p.replace(/^@_?/, '@_')) : p));
  return (record, b) => {
    let v: any = batch ? b : record;
    for (const p of parts) {
      if (v === null || v === undefined) return undefined;
      const child = v[p];
      // A bare name finds an attribute when the element has no child of that name, as a reader
      // of the department's format expects (`applyNo` for `<record applyNo="…">`).
      v = child === undefined && typeof v === 'object' && p[0] !== '@' ? v['@_' + p] : child;
    }
    return v;
  };
}

/**
 * Mapping written once for both kinds of rule: a step yields each value it needs (a path's value, or
 * the promise of a JSONata expression's) and is handed back what it resolves to.
 */
type Steps<T> = Generator<unknown, T, unknown>;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Runs steps synchronously for as long as the values they yield are plain; at a promise, it goes on
 * once the promise settles (a rejection is thrown where the step waits, so its own try/catch sees it).
 */
function drive<T>(steps: Steps<T>, next: IteratorResult<unknown, T> = steps.next()): T | Promise<T> {
  while (!next.done) {
    const value = next.value;
    if (isThenable(value)) return Promise.resolve(value).then((v) => drive(steps, steps.next(v)), (err) => drive(steps, steps.throw(err)));
    next = steps.next(value);
  }
  return next.value;
}

/**
 * `@name` in an expression is an XML attribute, as in a path: written for JSONata as the stored
 * name in backticks (`` `@_name` ``; plain `name` after `$batch.`). JSONata's own `@` binds a
 * variable and is always followed by `$`, so this takes nothing from it. Strings, quoted names and
 * comments are left as they are.
 */
export function withAttributes(expr: string): string {
  let out = '';
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      out += expr.slice(i, j + 1);
      i = j;
    } else if (c === '/' && expr[i + 1] === '*') {
      const end = expr.indexOf('*/', i + 2);
      const j = end === -1 ? expr.length : end + 2;
      out += expr.slice(i, j);
      i = j - 1;
    } else if (c === '@' && /[A-Za-z_]/.test(expr[i + 1] ?? '')) {
      const name = /^@_?([A-Za-z_]\w*)/.exec(expr.slice(i))!;
      out += out.endsWith('$batch.') ? name[1] : `\`@_${name[1]}\``;
      i += name[0].length - 1;
    } else {
      out += c;
    }
  }
  return out;
}

function compileExpression(expr: string, where: string): jsonata.Expression {
  try {
    return jsonata(withAttributes(expr));
  } catch (err) {
    throw new ConfigError(`${where}: invalid JSONata expression ${JSON.stringify(expr)}: ${(err as Error).message}`);
  }
}

function asText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  // fast-xml-parser gives an object for an element with attributes and no text.
  if (typeof v === 'object' && v && '#text' in (v as object)) return asText((v as any)['#text']);
  if (typeof v === 'object' && v && Object.keys(v as object).length === 0) return '';
  const json = JSON.stringify(v);
  // A function (what a JSONata regex or lambda evaluates to) has no text; the caller refuses the
  // record with rule `expression`, where `undefined` made it throw a TypeError.
  if (json === undefined) throw new TypeError(`the value is a ${typeof v}, not text`);
  return json;
}

/**
 * A department's mapping profile, compiled: turns one record (a JSON object, or the object an XML
 * record parses to) into one canonical case event, or a refusal naming the field, value and rule.
 * Pure: the same record and context always give the same result and the same event id.
 */
export class MappingProfile implements RecordMapper {
  readonly adapter: string;
  readonly version: string;
  readonly file: string;
  private readonly rules: Record<string, CompiledRule[]>;
  private readonly eventKey: { get: Getter; field: string; label?: string }[];
  private readonly department: { code: string; name: string };

  private constructor(file: string, text: string, private readonly shared: SharedTables) {
    this.file = file;
    let raw: any;
    try {
      raw = YAML.parse(text);
    } catch (err) {
      throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`);
    }
    const why = checkProfile(raw);
    if (why) {
      throw new ConfigError(`${file}: not a mapping profile: ${why}`);
    }
    this.adapter = raw.adapter;
    this.version = 'sha256:' + createHash('sha256').update(text).update('\0').update(shared.version).digest('hex').slice(0, 16);
    if (raw.department) {
      const r = shared.resolver.resolve(raw.department);
      if (!r.ok) throw new ConfigError(`${file}: department ${raw.department} is not in the registry`);
      this.department = { code: r.value.code, name: r.value.name };
    } else {
      const dept = shared.registry.departments.find((d) => (d.systems ?? []).includes(this.adapter));
      if (!dept) throw new ConfigError(`${file}: no department in the registry lists system ${this.adapter}; name one with \`department:\``);
      this.department = { code: dept.code, name: dept.name };
    }
    const tables = new Map<string, Map<string, TableEntry>>();
    for (const [name, entries] of Object.entries<Record<string, string | TableEntry>>(raw.tables ?? {})) {
      tables.set(name, new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === 'string' ? { value: v } : v])));
    }
    this.rules = {};
    for (const [name, spec] of Object.entries<any>(raw.fields)) {
      const list = Array.isArray(spec) ? spec : [spec];
      this.rules[name] = list.map((r: any, i: number) => this.compileRule(name, r, tables, `${file}: fields.${name}${Array.isArray(spec) ? `[${i}]` : ''}`));
    }
    this.checkTables();
    const labels = new Map<string, string>();
    for (const [name, rules] of Object.entries(this.rules)) {
      for (const r of rules) if (!labels.has(r.field)) labels.set(r.field, r.label !== name ? r.label : '');
    }
    this.eventKey = (raw.eventKey as string[]).map((p) => {
      const simple = SIMPLE_PATH.test(p);
      const field = simple ? fieldName(p) : p;
      const get: Getter = simple ? pathGetter(p) : ((e) => (r: any, b: any) => e.evaluate(r, { batch: b }))(compileExpression(p, `${file}: eventKey`));
      return { get, field, label: labels.get(field) || undefined };
    });
  }

  static fromFile(file: string, shared: SharedTables): MappingProfile {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read mapping profile ${file}: ${(err as Error).message}`);
    }
    return new MappingProfile(file, text, shared);
  }

  static fromText(file: string, text: string, shared: SharedTables): MappingProfile {
    return new MappingProfile(file, text, shared);
  }

  private compileRule(name: string, r: any, tables: Map<string, Map<string, TableEntry>>, where: string): CompiledRule {
    let get: Getter;
    if (r.from !== undefined) {
      if (SIMPLE_PATH.test(r.from)) get = pathGetter(r.from);
      else {
        const e = compileExpression(r.from, where);
        get = (rec, batch) => e.evaluate(rec, { batch });
      }
    } else if (r.value !== undefined) {
      get = () => r.value;
    } else {
      throw new ConfigError(`${where}: a rule needs \`from\` or \`value\``);
    }
    let table: Map<string, TableEntry> | undefined;
    if (r.table) {
      table = tables.get(r.table);
      if (!table) throw new ConfigError(`${where}: no table named ${r.table}`);
    }
    const options: NormaliserOptions = {};
    for (const k of Object.keys(OPTION_OWNERS) as (keyof NormaliserOptions)[]) if (r[k] !== undefined) (options as any)[k] = r[k];
    let normaliser: Normaliser | undefined;
    let checks: Record<Applicant['idType'], Normaliser> | undefined;
    try {
      if (r.normalise) normaliser = getNormaliser(r.normalise, options);
      else if (Object.keys(options).length > 0) {
        // The applicant's ID number is checked by its type without `normalise`; its options still apply.
        if (name === 'applicantIdNumber' && Object.keys(options).every((k) => OPTION_OWNERS[k as keyof NormaliserOptions] === 'citizenId')) checks = idChecks(options);
        else {
          const k = Object.keys(options)[0] as keyof NormaliserOptions;
          throw new Error(`\`${k}\` is an option of a normaliser: add \`normalise: ${OPTION_OWNERS[k]}\``);
        }
      }
    } catch (err) {
      throw new ConfigError(`${where}: ${(err as Error).message}`);
    }
    return {
      when: r.when ? compileExpression(r.when, where) : undefined,
      get, table, normaliser, idChecks: checks,
      optional: r.optional === true,
      field: r.field ?? (r.from && SIMPLE_PATH.test(r.from) ? fieldName(r.from) : name),
      label: r.label ?? FIELD_LABELS[name] ?? name,
    };
  }

  /** A table that translates statuses or items must only produce values the hub knows. */
  private checkTables(): void {
    for (const rule of this.rules.status ?? []) {
      for (const [k, e] of rule.table ?? []) {
        if (!(CANONICAL_STATUSES as readonly string[]).includes(e.value)) throw new ConfigError(`${this.file}: status table maps ${k} to ${e.value}, which is not a canonical status`);
      }
    }
    for (const rule of this.rules.item ?? []) {
      for (const [k, e] of rule.table ?? []) {
        const item = this.shared.items.get(e.value);
        if (!item) throw new ConfigError(`${this.file}: item table maps ${k} to ${e.value}, which is not in the catalogue`);
        if (item.department !== this.department.code) throw new ConfigError(`${this.file}: item ${e.value} belongs to ${item.department}, not to ${this.department.code}`);
      }
    }
  }

  private *pick(name: string, record: unknown, batch: Record<string, unknown>): Steps<CompiledRule | undefined> {
    for (const rule of this.rules[name] ?? []) {
      if (!rule.when) return rule;
      let holds: unknown;
      try {
        holds = yield rule.when.evaluate(record, { batch });
      } catch (err) {
        // As a failing `from`: the record is refused, not the whole message answered "try again".
        throw new Refused({ field: rule.field, value: null, rule: 'expression', reason: `${rule.label}无法读取 (${rule.field}: the rule's condition failed: ${(err as Error).message})` });
      }
      if (holds) return rule;
    }
    return undefined;
  }

  /** Reads, translates and checks one field; null when optional and empty. */
  private *field(name: string, record: unknown, batch: Record<string, unknown>, idType?: Applicant['idType']): Steps<{ value: string | null; entry?: TableEntry; rule?: CompiledRule; raw: string | null }> {
    const rule = yield* this.pick(name, record, batch);
    if (!rule) return { value: null, raw: null };
    let raw: string | null;
    try {
      raw = asText(yield rule.get(record, batch));
    } catch (err) {
      throw new Refused({ field: rule.field, value: null, rule: 'expression', reason: `${rule.label}无法读取 (${rule.field}: ${(err as Error).message})` });
    }
    const unstorable = raw === null ? null : UNSTORABLE.exec(raw);
    if (unstorable) {
      // The rules and words of the name normaliser, which refuses both in a name.
      const nul = unstorable[0] === '\u0000';
      const hex = unstorable[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      throw new Refused({
        field: rule.field, value: raw, rule: nul ? 'control-character' : 'encoding',
        reason: `${withLabel(rule.label, nul ? '含控制字符' : '含无法识别的字符')} (${rule.field}: U+${hex} at position ${unstorable.index + 1} cannot be stored)`,
      });
    }
    const trimmed = raw === null ? '' : raw.replace(/^[\s\u3000]+|[\s\u3000]+$/g, '');
    if (trimmed === '') {
      if (rule.optional) return { value: null, rule, raw };
      throw new Refused({ field: rule.field, value: raw, rule: 'required', reason: `${rule.label}缺失 (${rule.field} is required)` });
    }
    let value = trimmed;
    let entry: TableEntry | undefined;
    if (rule.table) {
      entry = rule.table.get(value);
      if (!entry) {
        throw new Refused({ field: rule.field, value, rule: 'unknown-code', reason: `${rule.label}未知: ${value} (${this.adapter} ${rule.field}=${JSON.stringify(value)} is not in the profile's table)` });
      }
      value = entry.value;
    }
    const check = rule.normaliser ?? (idType ? (rule.idChecks ?? ID_NORMALISERS)[idType] : undefined);
    if (check) {
      const n = check(value);
      if (!n.ok) {
        throw new Refused({ field: rule.field, value: raw, rule: n.rule, reason: `${withLabel(rule.label, n.message)}${n.detail ? ` (${rule.field}: ${n.detail})` : ''}` });
      }
      value = typeof n.value === 'string' ? n.value : JSON.stringify(n.value);
    }
    return { value, entry, rule, raw };
  }

  /**
   * Maps one record. Synchronous when the profile's rules are plain paths (a large file's records
   * then cost no promise each); a promise when a JSONata expression had to be evaluated.
   */
  mapRecord(record: unknown, ctx: RecordContext): MapResult | Promise<MapResult> {
    return drive(this.mapSteps(record, ctx));
  }

  private *mapSteps(record: unknown, ctx: RecordContext): Steps<MapResult> {
    const batch = ctx.batch ?? {};
    let id: string | undefined;
    try {
      const key: string[] = [];
      for (const k of this.eventKey) {
        let v: string | null;
        try {
          v = asText(yield k.get(record, batch));
        } catch (err) {
          throw new Refused({ field: k.field, value: null, rule: 'expression', reason: `记录标识无法读取 (${k.field}, a field of the event key: ${(err as Error).message})` });
        }
        if (!v || !v.trim()) {
          throw new Refused({ field: k.field, value: v, rule: 'required', reason: `${k.label ?? `记录标识 ${k.field} `}缺失 (${k.field}, a field of the event key, is empty)` });
        }
        key.push(v);
      }
      id = eventId(this.adapter, key);
      const localCaseId = (yield* this.field('localCaseId', record, batch)).value!;
      const status = yield* this.field('status', record, batch);
      const statusLabel = yield* this.field('statusLabel', record, batch);
      const item = yield* this.field('item', record, batch);
      const catalogueItem = this.shared.items.get(item.value!);
      if (!catalogueItem) {
        throw new Refused({ field: item.rule!.field, value: item.raw, rule: 'unknown-item', reason: `${item.rule!.label}不在事项目录中: ${item.value} (not in the catalogue)` });
      }
      const statusTime = (yield* this.field('statusTime', record, batch)).value!;
      const carried = yield* this.field('supervisionCode', record, batch);
      if (carried.value) {
        const p = parseSupervisionCode(carried.value);
        if (!p.ok) throw new Refused({ field: carried.rule!.field, value: carried.raw, rule: p.rule, reason: `${withLabel(carried.rule!.label, p.message)} (${carried.rule!.field})` });
      }
      let hall: { code: string; name: string } | undefined;
      const hallField = yield* this.field('hall', record, batch);
      if (hallField.value) {
        const r = this.shared.resolver.resolve(hallField.value);
        if (!r.ok || r.value.code !== this.department.code || !r.value.hall) {
          throw new Refused({ field: hallField.rule!.field, value: hallField.value, rule: 'unknown-alias', reason: `${hallField.rule!.label}未知: ${hallField.value} (not a hall of ${this.department.name})` });
        }
        hall = r.value.hall;
      }
      const idType = (yield* this.field('applicantIdType', record, batch)).value as Applicant['idType'];
      if (!Object.prototype.hasOwnProperty.call(ID_NORMALISERS, idType)) {
        throw new Refused({ field: 'applicantIdType', value: idType, rule: 'unknown-code', reason: `证件类型未知: ${idType}` });
      }
      const idNumber = (yield* this.field('applicantIdNumber', record, batch, idType)).value!;
      const name = (yield* this.field('applicantName', record, batch)).value!;
      const phoneField = yield* this.field('applicantPhone', record, batch);
      const phone = phoneField.value ? (JSON.parse(phoneField.value) as { number: string; mobile: boolean }) : null;
      const officer = (yield* this.field('officer', record, batch)).value;
      const remark = (yield* this.field('remark', record, batch)).value;

      const event: CaseEvent = {
        specversion: '1.0',
        id,
        source: SOURCE_PREFIX + this.adapter,
        type: EVENT_TYPE,
        time: statusTime,
        datacontenttype: 'application/json',
        data: {
          department: { ...this.department, ...(hall ? { hall } : {}) },
          item: { code: catalogueItem.code, name: catalogueItem.name },
          localCaseId,
          system: this.adapter,
          status: status.value as CanonicalStatus,
          statusTime,
          sourceStatus: { code: status.raw!.trim(), label: statusLabel.value ?? status.entry?.label ?? null },
          applicant: {
            kind: idType === 'USCC' ? 'ORGANISATION' : 'PERSON',
            name,
            idType,
            idNumber,
            mobile: phone?.mobile ? phone.number : null,
            ...(phone && !phone.mobile ? { phone: phone.number } : {}),
          },
          officer,
          remark,
          supervisionCode: carried.value,
          provenance: { adapter: this.adapter, rawMessageId: ctx.rawMessageId, record: ctx.recordIndex, profileVersion: this.version },
        },
      };
      const invalid = validateCaseEvent(event);
      if (invalid) throw new Refused({ field: invalid.field, value: null, rule: 'schema', reason: `规范事件无效 (${invalid.message})` });
      return { ok: true, event };
    } catch (err) {
      if (err instanceof Refused) return { ok: false, failure: { adapter: this.adapter, ...err.failure, ...(id ? { eventId: id } : {}) } };
      throw err;
    }
  }
}
