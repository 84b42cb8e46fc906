import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Registry, createDepartmentResolver } from './department';

const registry = parse(readFileSync(path.resolve(__dirname, '../../../contracts/registry.yaml'), 'utf8')) as Registry;
const resolver = createDepartmentResolver(registry);

const VEHICLE_OFFICE = { code: '11130100000400113E', name: '石家庄市公安局交通管理局车辆管理所' };
const HALL_1 = { code: '111301000004001219', name: '石家庄市公安局交通管理局车辆管理一所' };
const HALL_2 = { code: '11130100000400105K', name: '石家庄市公安局交通管理局车辆管理二所' };
const TAX_BUREAU = { code: '11130100MB0194826G', name: '国家税务总局石家庄市税务局' };
const MARKET_REGULATION = { code: '11130100000500117D', name: '石家庄市市场监督管理局' };

describe('department resolver', () => {
  it('resolves a hall local code to the department and its hall', () => {
    assert.deepEqual(resolver.resolve('130100000401'), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_1 } });
    assert.deepEqual(resolver.resolve('130100000402'), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_2 } });
  });

  it('resolves hall names and aliases', () => {
    for (const alias of ['车管一所', '车辆管理一所', '市交管局车辆管理一所', HALL_1.name, HALL_1.code]) {
      assert.deepEqual(resolver.resolve(alias), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_1 } }, alias);
    }
  });

  it('resolves department names, short names, aliases and canonical codes without a hall', () => {
    for (const alias of ['车管所', '市交管局车管所', '车辆管理所', VEHICLE_OFFICE.name, VEHICLE_OFFICE.code]) {
      assert.deepEqual(resolver.resolve(alias), { ok: true, value: VEHICLE_OFFICE }, alias);
    }
    for (const alias of ['11301000000', '市税务局', '石家庄市税务局', TAX_BUREAU.name, TAX_BUREAU.code]) {
      assert.deepEqual(resolver.resolve(alias), { ok: true, value: TAX_BUREAU }, alias);
    }
    for (const alias of ['SCJG', '市场监管局', '市市场监管局', MARKET_REGULATION.code]) {
      assert.deepEqual(resolver.resolve(alias), { ok: true, value: MARKET_REGULATION }, alias);
    }
    assert.deepEqual(resolver.resolve('政务服务中心'), { ok: true, value: { code: '111301000001000056', name: '石家庄市行政审批局' } });
  });

  it('tolerates spaces, full-width forms and letter case', () => {
    assert.deepEqual(resolver.resolve('  scjg '), { ok: true, value: MARKET_REGULATION });
    assert.deepEqual(resolver.resolve('ＳＣＪＧ'), { ok: true, value: MARKET_REGULATION });
    assert.deepEqual(resolver.resolve('１３０１０００００４０１'), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_1 } });
    assert.deepEqual(resolver.resolve('车管\u3000一所'), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_1 } });
    assert.deepEqual(resolver.resolve('11130100mb0194826g'), { ok: true, value: TAX_BUREAU });
  });

  it('refuses an unknown name with rule unknown-alias', () => {
    assert.deepEqual(resolver.resolve('市公安局'), {
      ok: false,
      rule: 'unknown-alias',
      message: '无法识别',
      detail: 'no department or hall is known as "市公安局"',
    });
    assert.equal((resolver.resolve('130100000403') as { rule: string }).rule, 'unknown-alias');
    assert.equal((resolver.resolve(' ') as { rule: string }).rule, 'empty');
  });

  it('hands out copies that cannot alter its table', () => {
    const first = resolver.resolve('130100000401');
    assert.ok(first.ok && first.value.hall);
    first.value.hall.name = 'changed';
    first.value.name = 'changed';
    assert.deepEqual(resolver.resolve('130100000401'), { ok: true, value: { ...VEHICLE_OFFICE, hall: HALL_1 } });
  });

  it('reads local codes that YAML parsed as numbers', () => {
    const r = createDepartmentResolver(parse('region: "130100"\ndepartments:\n  - {code: "11130100MB0194826G", name: 税务局, aliases: [11301000000]}\n') as Registry);
    assert.deepEqual(r.resolve('11301000000'), { ok: true, value: { code: '11130100MB0194826G', name: '税务局' } });
  });

  it('refuses a registry in which one alias names two targets', () => {
    const clash: Registry = {
      region: '130100',
      departments: [
        { code: 'A', name: '甲局', aliases: ['分局'] },
        { code: 'B', name: '乙局', aliases: [' 分 局 '] },
      ],
    };
    assert.throws(() => createDepartmentResolver(clash), /" 分 局 " names both 甲局 and 乙局/);
  });

  it('allows the same alias twice for the same target', () => {
    const r = createDepartmentResolver({ region: '130100', departments: [{ code: 'A', name: '甲局', short: '甲局', aliases: ['甲局'] }] });
    assert.deepEqual(r.resolve('甲局'), { ok: true, value: { code: 'A', name: '甲局' } });
  });

  it('refuses a malformed registry', () => {
    assert.throws(() => createDepartmentResolver({} as Registry), TypeError);
    assert.throws(() => createDepartmentResolver({ region: '1', departments: [{ name: '甲局' } as never] }), /needs a code and a name/);
    assert.throws(() => createDepartmentResolver({ region: '1', departments: [{ code: 'A', name: '甲局', halls: [{ code: 'H' } as never] }] }), /halls\[0\] needs a code and a name/);
  });
});
