import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CALENDAR_DIR } from '../core/calendar/calendar-file';
import { calendarCommand } from './calendar-command';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await calendarCommand(args, { out: (s) => { out += s; }, err: (s) => { err += s; } });
  return { code, out, err };
}

describe('hub calendar check', () => {
  const shipped = path.join(DEFAULT_CALENDAR_DIR, '2026.yaml');

  it('summarises the shipped 2026 file and exits 0', async () => {
    const r = await run(['check', shipped]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${shipped}: 2026, 33 days off, 6 adjusted working days, 248 working days\n`);
    assert.equal(r.err, '');
  });

  it('gives the reason for an invalid file and exits 1, still checking the others', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-calendar-cli-'));
    const bad = path.join(dir, '2026.yaml');
    fs.writeFileSync(bad, "year: 2026\nsource: t\nholidays:\n  - name: 春节\n    from: '2026-02-15'\n    to: '2026-02-23'\n    workdays: ['2026-02-25']\n");
    const r = await run(['check', bad, shipped]);
    assert.equal(r.code, 1);
    assert.equal(r.err, `${bad}: holiday 春节: workdays[0] 2026-02-25 is a Wednesday: an adjusted working day is a Saturday or Sunday\n`);
    assert.match(r.out, /2026, 33 days off/);
  });

  it('exits 1 for a file that is not there', async () => {
    const r = await run(['check', path.join(os.tmpdir(), 'no-such-calendar.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.err, /no-such-calendar\.yaml: cannot read it/);
  });

  it('prints its usage and exits 2 without a file or with an unknown command', async () => {
    for (const args of [['check'], [], ['list']]) {
      const r = await run(args);
      assert.equal(r.code, 2);
      assert.match(r.err, /usage: hub calendar check FILE/);
      assert.equal(r.out, '');
    }
  });
});
