import assert from 'node:assert/strict';
import fc from 'fast-check';
import { maskPersonalData, maskText } from './personal-data';
import { citizenIdCheckDigit, normaliseCitizenId } from '../identifiers/citizen-id';
import { toHalfWidth } from '../identifiers/half-width';
import { maskIdNumber, maskPhone } from '../identifiers/mask';
import { normaliseMobile } from '../identifiers/mobile';

const mobile = fc.tuple(fc.constantFrom('3', '4', '5', '6', '7', '8', '9'), fc.stringMatching(/^\d{9}$/)).map(([b, rest]) => `1${b}${rest}`);
const citizenId = fc.tuple(fc.stringMatching(/^\d{17}$/), fc.constantFrom('0', '7', 'X')).map(([d, c]) => d + c);
// Text around personal data in reasons and remarks: Chinese, spaces, punctuation, never a letter or digit touching it.
const around = fc.array(fc.constantFrom('电', '话', '号', '码', '：', ':', ' ', '，', '(', ')', '/', '经办人'), { maxLength: 6 }).map((a) => a.join(''));

describe('personal data masking', () => {
  it('masks every mobile and citizen ID number in free text', () => {
    fc.assert(fc.property(around, fc.oneof(mobile, citizenId), around, (before, secret, after) => {
      const out = maskText(`${before}${secret}${after}`);
      assert.ok(!out.includes(secret), out);
      assert.ok(out.startsWith(before) && out.endsWith(after), out);
    }), { numRuns: 500 });
  });

  it('leaves the hub\'s own identifiers as they are, whatever digits they hold', () => {
    fc.assert(fc.property(fc.uuid(), (id) => {
      assert.equal(maskText(id), id);
      assert.deepEqual(maskPersonalData({ id, rawMessageId: id, reason: `记录 ${id} 不予处理` }), { id, rawMessageId: id, reason: `记录 ${id} 不予处理` });
    }), { numRuns: 2000 });
    // The message id a dead letter once showed with its digits masked.
    assert.equal(maskText('bd619044-6001-4bbb-8ab7-17883356998d'), 'bd619044-6001-4bbb-8ab7-17883356998d');
  });
});

// The spellings the hub's normalisers accept (core/identifiers), and a few more that clerks type:
// full-width digits and X, spaces of every kind and dashes between the digits, +86 or 86 before a mobile.
const SEPARATORS = [' ', '\u3000', '\u00a0', '-', '\u2010', '\uff0d', '\u2014', '  ', ' - '];
const MOBILE_PREFIXES = ['', '', '+86 ', '+86', '86 ', '86', '\uff0b\uff18\uff16 ', '\uff0b\uff18\uff16\u3000', '+86-', '0086 ', '(+86)'];
const REGIONS = ['130102', '130104', '130105', '130121', '130181', '110105', '650102', '440305', '310115', '830000'];
const toFullWidth = (ch: string) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0);

const birthDate = (min: string, max: string) =>
  fc.date({ min: new Date(`${min}T00:00:00Z`), max: new Date(`${max}T00:00:00Z`), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10).replace(/-/g, ''));
const serial = fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0'));
const validCitizenId = fc.tuple(fc.constantFrom(...REGIONS), birthDate('1900-01-01', '2024-12-31'), serial).map(([r, b, s]) => r + b + s + citizenIdCheckDigit(r + b + s));
const legacyCitizenId = fc.tuple(fc.constantFrom(...REGIONS.slice(0, 5)), birthDate('1900-01-01', '1999-12-31'), serial).map(([r, b, s]) => r + b.slice(2) + s);

type Kind = 'citizen-id' | 'legacy-id' | 'mobile';
type Secret = { kind: Kind; value: string; spelled: string };

/** An identifier in one of its accepted spellings: each character wide or not, separators anywhere inside. */
const spelled = (kind: Kind, value: fc.Arbitrary<string>): fc.Arbitrary<Secret> =>
  fc.record({
    value,
    width: fc.constantFrom('ascii', 'wide', 'mixed'),
    chars: fc.array(fc.record({ wide: fc.boolean(), sep: fc.option(fc.constantFrom(...SEPARATORS), { freq: 3 }) }), { minLength: 18, maxLength: 18 }),
    lowerX: fc.boolean(),
    prefix: fc.constantFrom(...MOBILE_PREFIXES),
  }).map(({ value: v, width, chars, lowerX, prefix }) => {
    const body = [...v].map((ch, i) => {
      const c = ch === 'X' && lowerX ? 'x' : ch;
      const wide = width === 'wide' || (width === 'mixed' && chars[i].wide);
      return (wide ? toFullWidth(c) : c) + (i < v.length - 1 ? chars[i].sep ?? '' : '');
    }).join('');
    return { kind, value: v, spelled: kind === 'mobile' ? prefix + body : body };
  });

const secret: fc.Arbitrary<Secret> = fc.oneof(spelled('citizen-id', validCitizenId), spelled('legacy-id', legacyCitizenId), spelled('mobile', mobile));

// Characters a glued neighbour would make part of a longer identifier (letters, digits, in any width).
const GLUE = /[0-9A-Za-z*\p{Nd}\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff0a]/u;
const text = fc.oneof(around, fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }));
const before = text.map((s) => (s && GLUE.test([...s].pop()!) ? `${s}，` : s));
const after = text.map((s) => (s && GLUE.test([...s][0]) ? `，${s}` : s));

/** The text as a reader would search it: ASCII digits, no spaces or dashes, upper case. */
const searchable = (s: string) => toHalfWidth(s).replace(/[\s\-\u2010-\u2015\u2212()]/g, '').toUpperCase();

const expectedMask = (s: Secret) => (s.kind === 'mobile' ? maskPhone(s.value) : maskIdNumber(s.value));

type Layer = { array: fc.JsonValue[]; at: number } | { object: Record<string, fc.JsonValue>; key: string };
const sibling = fc.jsonValue({ maxDepth: 1 });
const layer: fc.Arbitrary<Layer> = fc.oneof(
  fc.record({ array: fc.array(sibling, { maxLength: 3 }), at: fc.nat() }),
  fc.record({ object: fc.dictionary(fc.string(), sibling, { maxKeys: 3 }), key: fc.string() }),
);

const place = (o: Record<string, unknown>, key: string, value: unknown) => Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });

/** A JSON value holding the spelled identifier somewhere: as a string, inside one, as a key, or as a number, nested in layers. */
const embedded = fc.record({
  secret,
  where: fc.constantFrom('whole', 'text', 'key', 'number'),
  before,
  after,
  isolated: fc.boolean(),
  layers: fc.array(layer, { maxLength: 40 }),
  other: sibling,
}).map((c) => {
  const [b, a] = c.isolated ? [`${c.before}：`, `。${c.after}`] : [c.before, c.after];
  const inText = `${b}${c.secret.spelled}${a}`;
  let leaf: unknown;
  if (c.where === 'whole') leaf = c.secret.spelled;
  else if (c.where === 'text') leaf = inText;
  else if (c.where === 'key') leaf = place({}, c.isolated ? inText : c.secret.spelled, c.other);
  else leaf = c.secret.kind === 'citizen-id' ? c.secret.spelled : Number(c.secret.value);
  for (const l of [...c.layers].reverse()) {
    if ('array' in l) { const arr: unknown[] = [...l.array]; arr.splice(l.at % (arr.length + 1), 0, leaf); leaf = arr; }
    else leaf = place({ ...l.object }, l.key, leaf);
  }
  // The masked form is exact when nothing but the identifier is in its token run.
  const exact = c.where !== 'text' || c.isolated;
  return { secret: c.secret, value: leaf, exact };
});

describe('personal data masking, whatever the spelling and wherever it hides', () => {
  it('leaves no valid or legacy citizen ID nor mobile readable in any accepted spelling, anywhere in a JSON value (10,000 cases)', () => {
    fc.assert(fc.property(embedded, ({ secret: s, value, exact }) => {
      if (s.kind !== 'mobile') assert.ok(normaliseCitizenId(s.value).ok, `generator: ${s.value} is a citizen ID`);
      else assert.ok(normaliseMobile(s.value).ok, `generator: ${s.value} is a mobile`);
      const out = searchable(JSON.stringify(maskPersonalData(value)) ?? '');
      assert.ok(!out.includes(s.value), `${s.kind} ${s.value} (spelled ${JSON.stringify(s.spelled)}) readable in ${out}`);
      assert.ok(out.includes('***'), `no mask in ${out}`);
      if (exact) assert.ok(out.includes(expectedMask(s)), `${expectedMask(s)} not in ${out}`);
    }), { numRuns: 10_000 });
  });

  it('masks the ID-shaped and mobile-shaped runs that fail their check, in ASCII digits', () => {
    const cases: Array<[string, string]> = [
      ['１３０１０２１９７５１２０８６２３４', '1301**********6234'],
      ['130102 19751208 623 ｘ', '1301**********623X'],
      ['130102-751208-623', '1301*******8623'],
      ['1301021975120862', '1301********0862'],
      ['13010219751208623', '1301*********8623'],
      ['138 3110 0425', '138****0425'],
      ['138-3110-0425', '138****0425'],
      ['+86 138 3110 0425', '+86 138****0425'],
      ['＋８６　１３８　３１１０　０４２５', '＋８６　138****0425'],
      ['8613831100425', '86138****0425'],
      ['１３８３１１００４２５６', '138*****4256'],
      ['电话：１３８\u00a03110\u30000425。', '电话：138****0425。'],
    ];
    for (const [input, masked] of cases) assert.equal(maskText(input), masked, input);
    assert.deepEqual(maskPersonalData({ '１３８３１１００４２５': [{ mobile: '１３８ ３１１０ ０４２５', n: 13831100425 }] }), { '138****0425': [{ mobile: '138****0425', n: '138****0425' }] });
  });

  it('masks strings nested past its depth limit too, as their JSON text', () => {
    let deep: unknown = { note: '电话\n13831100425', '130102197512086233': true };
    for (let i = 0; i < 100; i++) deep = i % 2 ? [deep] : { next: deep };
    const out = JSON.stringify(maskPersonalData(deep));
    assert.ok(!out.includes('13831100425') && !out.includes('130102197512086233'), out);
    assert.match(out, /138\*\*\*\*0425/);
  });

  it('is idempotent, and leaves credit codes, amounts, dates and times readable', () => {
    fc.assert(fc.property(fc.oneof(embedded.map((e) => e.value), fc.jsonValue()), (value) => {
      const once = maskPersonalData(value);
      assert.deepEqual(maskPersonalData(once), once);
    }), { numRuns: 2000 });
    const readable = [
      '91130100MA0CK3L52K', '11130100000500117D', '金额 1500.00 元', '¥12,345,678.90', '20261124', '2026-11-24', '2026-11-24 09:30:00',
      '2026-11-24T09:30:00+08:00', '2026-11-24 至 2026-11-30', '2026-11-24 2026-11-30', '09:30', '1764000000000', '0311-86688001', '第 3 批 500 条',
      'bd619044-6001-4bbb-8ab7-17883356998d', '12345678901', '138.3110.0425',
    ];
    for (const s of readable) assert.equal(maskText(s), s);
    const record = { creditCode: '91130100MA0CK3L52K', amount: 1500, date: 20261124, time: '09:30:00', count: 12345 };
    assert.deepEqual(maskPersonalData(record), record);
  });
});
