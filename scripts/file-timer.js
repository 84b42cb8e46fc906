'use strict';
// Root hooks (mocha runs them once per file in parallel mode): each spec file's wall time, set-up
// and tear-down included, appended to .test-data/file-times.jsonl. The summary reporter prints the
// slowest files before its last line, so a run that grows past its budget shows where the time went.
const fs = require('fs');
const path = require('path');

const out = path.resolve(__dirname, '..', '.test-data', 'file-times.jsonl');
let started = 0;
let file = '';

exports.mochaHooks = {
  beforeAll() {
    started = Date.now();
    const root = this.test && this.test.parent;
    const first = root && (root.file || (root.suites.find((s) => s.file) || {}).file);
    file = first ? path.relative(path.resolve(__dirname, '..'), first) : '?';
  },
  afterAll() {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.appendFileSync(out, JSON.stringify({ file, ms: Date.now() - started }) + '\n');
  },
};
exports.timesFile = out;
