import assert from 'node:assert/strict';
import { normaliseCitizenId } from '../../core/identifiers/citizen-id';
import { normalisePhone } from '../../core/identifiers/mobile';
import { normaliseUscc } from '../../core/identifiers/uscc';
import {
  breakCheckChar, citizenId, enterprise, formattedMobile, invalidCitizenId, invalidUscc, landline, legacyCitizenId, mobile, person,
  toFullWidthDigits, uscc,
} from './identities';
import { Random } from './random';

describe('simulators: identities', () => {
  it('generates citizen ID numbers whose check digit the hub accepts', () => {
    const rng = new Random(1);
    for (let i = 0; i < 500; i++) {
      const id = citizenId(rng);
      assert.match(id, /^\d{17}[\dX]$/);
      assert.deepEqual(normaliseCitizenId(id), { ok: true, value: id });
    }
  });

  it('generates legacy 15-digit numbers the hub upgrades', () => {
    const rng = new Random(2);
    for (let i = 0; i < 100; i++) {
      const id = legacyCitizenId(rng);
      assert.match(id, /^\d{15}$/);
      const n = normaliseCitizenId(id);
      assert.ok(n.ok && n.value.length === 18, id);
    }
  });

  it('generates credit codes whose check character the hub accepts', () => {
    const rng = new Random(3);
    for (let i = 0; i < 500; i++) {
      const code = i % 2 ? uscc(rng) : enterprise(rng).creditCode;
      assert.deepEqual(normaliseUscc(code), { ok: true, value: code });
    }
  });

  it('breaks check characters on purpose', () => {
    const rng = new Random(4);
    for (let i = 0; i < 200; i++) {
      const id = i % 2 ? breakCheckChar(citizenId(rng), 'citizen-id') : invalidCitizenId(rng);
      const code = i % 2 ? breakCheckChar(uscc(rng), 'uscc') : invalidUscc(rng);
      const a = normaliseCitizenId(id);
      const b = normaliseUscc(code);
      assert.ok(!a.ok && a.rule === 'check-character', id);
      assert.ok(!b.ok && b.rule === 'check-character', code);
    }
  });

  it('generates mobiles, typed mobiles and landlines the hub can read', () => {
    const rng = new Random(5);
    for (let i = 0; i < 300; i++) {
      const m = mobile(rng);
      assert.match(m, /^1[3-9]\d{9}$/);
      assert.deepEqual(normalisePhone(formattedMobile(rng, m)), { ok: true, value: { number: m, mobile: true } });
      const l = normalisePhone(landline(rng));
      assert.ok(l.ok && !l.value.mobile);
    }
  });

  it('pairs a name written with a middle dot with a Xinjiang ID number', () => {
    const rng = new Random(6);
    const people = Array.from({ length: 400 }, () => person(rng));
    const dotted = people.filter((p) => p.name.includes('·'));
    assert.ok(dotted.length > 5);
    for (const p of dotted) assert.match(p.idNumber, /^65/);
  });

  it('types digits full-width', () => {
    assert.equal(toFullWidthDigits('130104199211073527'), '１３０１０４１９９２１１０７３５２７');
  });
});

describe('simulators: Random', () => {
  it('repeats its stream for one seed and differs for another', () => {
    const draw = (seed: number | string): number[] => {
      const r = new Random(seed);
      return Array.from({ length: 20 }, () => r.int(0, 1_000_000));
    };
    assert.deepEqual(draw(42), draw(42));
    assert.deepEqual(draw('a'), draw('a'));
    assert.notDeepEqual(draw(42), draw(43));
  });

  it('makes version 4 UUIDs', () => {
    const r = new Random(7);
    const ids = new Set(Array.from({ length: 1000 }, () => r.uuid()));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
