import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { CONTRACTS_DIR, ROOT } from '../core/kernel/paths';
import { validateCaseEvent } from './validate';

describe('contracts', () => {
  it('never edits a published schema in place', () => {
    const published = JSON.parse(fs.readFileSync(path.join(CONTRACTS_DIR, 'published.json'), 'utf8')).schemas as Record<string, string>;
    for (const [file, sha] of Object.entries(published)) {
      const actual = createHash('sha256').update(fs.readFileSync(path.join(CONTRACTS_DIR, file))).digest('hex');
      assert.equal(actual, sha, `${file} was published and has changed: add a new version beside it instead`);
    }
    for (const dir of fs.readdirSync(CONTRACTS_DIR).filter((d) => /^v\d+$/.test(d))) {
      for (const f of fs.readdirSync(path.join(CONTRACTS_DIR, dir))) assert.ok(published[`${dir}/${f}`], `${dir}/${f} is not listed in published.json`);
    }
  });

  it('keeps contracts/types.ts generated from the schemas', () => {
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'generate-types.js'), '--check'], { stdio: 'pipe' });
  });

  it('refuses an event that breaks the case-event schema, naming where', () => {
    const bad = validateCaseEvent({ specversion: '1.0', id: 'x' });
    assert.ok(bad && bad.message.length > 0);
  });
});
