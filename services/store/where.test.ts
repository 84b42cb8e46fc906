import assert from 'node:assert/strict';
import { Where } from './where';

describe('list filters (Where)', () => {
  it('numbers the values of every condition in order, the limit after them', () => {
    const w = new Where().add('(department_code = ? OR hall_code = ?)', 'D', 'D').add('resolved_at IS NULL').add('(claimed_at, id) < (?::timestamptz, ?)', 'T', 'I');
    const limit = w.param(51);
    assert.equal(`${w}`, 'WHERE (department_code = $1 OR hall_code = $2) AND resolved_at IS NULL AND (claimed_at, id) < ($3::timestamptz, $4)');
    assert.equal(limit, '$5');
    assert.deepEqual(w.params, ['D', 'D', 'T', 'I', 51]);
  });

  it('is empty without filters, and refuses a condition whose values do not match its placeholders', () => {
    assert.equal(`${new Where()}`, '');
    assert.throws(() => new Where().add('status = ?'), /1 placeholders for 0 values/);
    assert.throws(() => new Where().add('status = ?', 'A', 'B'), /1 placeholders for 2 values/);
  });
});
