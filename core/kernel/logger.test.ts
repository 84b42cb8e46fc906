import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { logger: createLogger('info', stream as never), text: () => lines.join('') };
}

describe('structured logs', () => {
  it('masks ID numbers and phones in fields and messages, keeping the rest readable', () => {
    const { logger, text } = capture();
    logger.warn({ adapter: 'vehicle-office', messageId: 'm-1', field: 'SQR/SFZMHM', value: '130105197806241284', idNumber: '13010419900307105X', mobile: '15833321907', reason: '身份证号码校验位错误 130105197806241284, 电话 +86 138-3311-0425' }, 'record refused for 130102198503120412');
    const out = text();
    for (const secret of ['130105197806241284', '13010419900307105X', '15833321907', '138-3311-0425', '130102198503120412']) assert.ok(!out.includes(secret), `log leaks ${secret}: ${out}`);
    const line = JSON.parse(out);
    assert.equal(line.value, '1301**********1284');
    assert.equal(line.mobile, '158****1907');
    assert.equal(line.adapter, 'vehicle-office');
    assert.equal(line.level, 'warn');
    assert.match(line.msg, /1301\*+0412/);
    // Organisation credit codes are not personal data: operators need them to find a record.
    const { logger: l2, text: t2 } = capture();
    l2.info({ value: '91130100MA0FGH8J4A' }, 'x');
    assert.match(t2(), /91130100MA0FGH8J4A/);
  });

  it('masks them in an Error logged alone, in an Error under err, in a child logger\'s fields and in format arguments', () => {
    const { logger, text } = capture();
    const id = '１３０１０２１９７５１２０８６２３３';
    logger.error(new Error(`refused: ${id}`));
    logger.warn({ err: new Error('mobile 138 3110 0425 is not reachable') }, 'send failed');
    logger.child({ applicantMobile: '+86 138-3110-0425', idNumber: '130102197512086233' }).info('child line');
    logger.info('format %s and %o', '130102197512086233', { phone: '13831100425' });
    const out = text();
    const digits = out.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).replace(/[\s-]/g, '');
    for (const secret of ['130102197512086233', '13831100425']) assert.ok(!digits.includes(secret), `log leaks ${secret}: ${out}`);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 4);
    assert.match(lines[0].msg, /refused: /);
    assert.equal(lines[2].msg, 'child line');
  });
});
