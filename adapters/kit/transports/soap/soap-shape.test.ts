import assert from 'node:assert/strict';
import { checkShape, DescribedShape } from './soap-shape';

// The vehicle office's ReportCaseStatus input as node-soap describes it, with a repeatable element added.
const SHAPE: DescribedShape = {
  LSH: 'xs:string', ZT: 'xs:string',
  SQR: { XM: 'xs:string', SFZMHM: 'xs:string', targetNSAlias: 'veh', targetNamespace: 'urn:gov:sjz:veh:exchange:v1' },
  'CL[]': { MC: 'xs:string', targetNSAlias: 'veh', targetNamespace: 'urn:gov:sjz:veh:exchange:v1' },
  targetNSAlias: 'veh', targetNamespace: 'urn:gov:sjz:veh:exchange:v1',
};

describe('soap-shape: a parsed request against the operation\'s schema', () => {
  it('takes a request with the schema\'s elements, some left out, repeatable ones repeated, attributes aside', () => {
    assert.deepEqual(checkShape({ LSH: '1', SQR: { XM: '张三' }, CL: [{ MC: 'a' }, { MC: 'b' }], attributes: { x: '1' } }, SHAPE), { ok: true });
    assert.deepEqual(checkShape({ LSH: '1', CL: { MC: 'a' } }, SHAPE), { ok: true });
  });

  it('refuses an element sent twice that the schema has once, naming it, at any depth', () => {
    const r = checkShape({ LSH: ['1', '2'] }, SHAPE);
    assert.equal(r.ok, false);
    assert.equal((r as { element: string }).element, 'LSH');
    assert.match((r as { reason: string }).reason, /LSH 重复 2 次/);
    assert.equal((checkShape({ SQR: { XM: ['a', 'b'] } }, SHAPE) as { element: string }).element, 'SQR.XM');
    assert.equal((checkShape({ CL: [{ MC: 'a' }, { MC: ['b', 'c'] }] }, SHAPE) as { element: string }).element, 'CL.MC');
  });

  it('refuses an element the schema does not have, and the describe() bookkeeping names as elements', () => {
    assert.equal((checkShape({ LSH: '1', FOO: 'x' }, SHAPE) as { element: string }).element, 'FOO');
    assert.equal((checkShape({ SQR: { BAR: 'x' } }, SHAPE) as { element: string }).element, 'SQR.BAR');
    assert.equal((checkShape({ targetNamespace: 'x' }, SHAPE) as { element: string }).element, 'targetNamespace');
  });
});
