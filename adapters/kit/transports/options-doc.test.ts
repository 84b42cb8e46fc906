import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { transportOptionsMarkdown } from './options-doc';
import { transportTypes } from './index';
import { ADAPTERS_DIR } from '../../../core/kernel/paths';

describe('transport options documentation', () => {
  it('is generated from the transports\' schemas and up to date (make docs)', () => {
    const file = path.join(ADAPTERS_DIR, 'kit', 'transports', 'OPTIONS.md');
    const text = transportOptionsMarkdown();
    for (const t of transportTypes()) assert.match(text, new RegExp(`## \`${t}\``));
    assert.equal(fs.readFileSync(file, 'utf8'), text, 'adapters/kit/transports/OPTIONS.md is out of date: run `make docs`');
  });
});
