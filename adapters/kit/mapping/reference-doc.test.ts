import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { mappingReferenceMarkdown } from './reference-doc';
import { ADAPTERS_DIR } from '../../../core/kernel/paths';
import { CANONICAL_STATUSES } from '../../../core/kernel/constants';

describe('mapping reference page', () => {
  it('lists every canonical status, ID type, rule option and event field from the schemas', () => {
    const text = mappingReferenceMarkdown();
    for (const s of CANONICAL_STATUSES) assert.match(text, new RegExp(`^\\| \`${s}\` \\|`, 'm'), s);
    // WITHDRAWN is final but neither decided nor completed (contracts/v1/status-classes.schema.json).
    assert.match(text, /^\| `WITHDRAWN` \| yes \|  \|  \|$/m);
    assert.match(text, /^\| `DELIVERED` \| yes \| yes \| yes \|$/m);
    for (const t of ['CITIZEN_ID', 'USCC', 'PASSPORT']) assert.match(text, new RegExp(`^\\| \`${t}\` \\|$`, 'm'), t);
    for (const o of ['from', 'value', 'format', 'zone', 'legacy']) assert.match(text, new RegExp(`^\\| \`${o}\` \\|`, 'm'), o);
    for (const f of ['data.status', 'data.applicant.idType', 'data.department.hall.code', 'data.provenance.profileVersion']) {
      assert.match(text, new RegExp(`^\\| \`${f.replace(/\./g, '\\.')}\` \\|`, 'm'), f);
    }
  });

  it('is committed as generated (make docs)', () => {
    const file = path.join(ADAPTERS_DIR, 'kit', 'mapping', 'REFERENCE.md');
    assert.equal(fs.readFileSync(file, 'utf8'), mappingReferenceMarkdown(), 'adapters/kit/mapping/REFERENCE.md is out of date: run `make docs`');
  });
});
