import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { normaliseName } from './person-name';

describe('person names', () => {
  it('keeps a name with a middle dot exactly as it is (vehicle office sample 03)', () => {
    assert.deepEqual(normaliseName('阿依古丽·买买提'), { ok: true, value: '阿依古丽·买买提' });
    assert.deepEqual(normaliseName('王建国'), { ok: true, value: '王建国' });
  });

  it('trims ASCII and full-width spaces and collapses inner runs to one space', () => {
    assert.deepEqual(normaliseName('\u3000 王建国 \u3000'), { ok: true, value: '王建国' });
    assert.deepEqual(normaliseName('王\u3000\u3000建国'), { ok: true, value: '王 建国' });
    assert.deepEqual(normaliseName('John  \u3000Smith'), { ok: true, value: 'John Smith' });
  });

  it('turns look-alike dots into the middle dot U+00B7', () => {
    for (const dot of ['\u2022', '\u30FB', '\uFF65', '\u2027', '\u22C5']) {
      assert.deepEqual(normaliseName(`阿依古丽${dot}买买提`), { ok: true, value: '阿依古丽·买买提' }, dot);
    }
    assert.deepEqual(normaliseName('阿依古丽 ・ 买买提'), { ok: true, value: '阿依古丽·买买提' });
  });

  it('turns a full stop into the middle dot only between Chinese characters', () => {
    assert.deepEqual(normaliseName('阿依古丽．买买提'), { ok: true, value: '阿依古丽·买买提' });
    assert.deepEqual(normaliseName('阿依古丽.买买提'), { ok: true, value: '阿依古丽·买买提' });
    assert.deepEqual(normaliseName('J．Smith'), { ok: true, value: 'J．Smith' });
    assert.deepEqual(normaliseName('J. Smith'), { ok: true, value: 'J. Smith' });
  });

  it('refuses empty names', () => {
    assert.deepEqual(normaliseName(' \u3000 '), { ok: false, rule: 'empty', message: '为空', detail: 'no name given' });
  });

  it('refuses control and invisible format characters', () => {
    assert.deepEqual(normaliseName('王\u0007建国'), {
      ok: false,
      rule: 'control-character',
      message: '含控制字符',
      detail: 'U+0007 at position 2',
    });
    assert.equal((normaliseName('王\t建国') as { rule: string }).rule, 'control-character');
    assert.equal((normaliseName('王\u202E建国') as { rule: string }).rule, 'control-character');
    assert.equal((normaliseName('王\u200B建国') as { rule: string }).rule, 'control-character');
  });

  it('refuses text that was decoded with the wrong encoding', () => {
    assert.equal((normaliseName('\uFFFD\uFFFD') as { rule: string }).rule, 'encoding');
    assert.equal((normaliseName('王\uD800') as { rule: string }).rule, 'encoding');
  });

  it('refuses absurdly long names', () => {
    assert.equal((normaliseName('王'.repeat(101)) as { rule: string }).rule, 'length');
    assert.equal(normaliseName('王'.repeat(100)).ok, true);
  });

  it('is idempotent and leaves no edge or double spaces', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('王', '建', '阿', 'a', ' ', '\u3000', '·', '•', '．', '.') }), (s) => {
        const once = normaliseName(s);
        if (!once.ok) return;
        assert.deepEqual(normaliseName(once.value), once);
        assert.equal(once.value, once.value.trim());
        assert.doesNotMatch(once.value, / {2}|\u3000/);
      }),
    );
  });
});
