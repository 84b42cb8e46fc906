'use strict';
// Mocha's spec output for people, then the one line CI reads: "N passed, N failed".
const Mocha = require('mocha');
const fs = require('fs');
const path = require('path');
const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;
const { timesFile } = require('./file-timer');

/** The slowest spec files of this run (scripts/file-timer.js), longest first. */
function slowestFiles(n) {
  let lines;
  try { lines = fs.readFileSync(timesFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { return ''; }
  if (!lines.length) return '';
  const total = lines.reduce((a, l) => a + l.ms, 0);
  const top = lines.sort((a, b) => b.ms - a.ms).slice(0, n);
  return `\nslowest spec files (${lines.length} files, ${(total / 1000).toFixed(0)} s in all):\n` +
    top.map((l) => `  ${(l.ms / 1000).toFixed(1).padStart(6)} s  ${l.file}`).join('\n') + '\n';
}

/** The failed tests again, one line each with the file and the error's first line: CI shows only the
 * end of the output, and the spec epilogue with the stacks may be far above it. */
function failedList(failed) {
  if (!failed.length) return '';
  return `\nfailed (${failed.length}):\n` + failed.map((f) => `  ${f.file}: ${f.title}\n      ${f.error}`).join('\n') + '\n';
}

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failed = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      const file = test.file || (test.parent && test.parent.file) || '?';
      const message = String((err && (err.message || err)) || '').split('\n').find((l) => l.trim()) || '';
      failed.push({ file: path.relative(process.cwd(), file), title: test.fullTitle(), error: message.trim().slice(0, 300) });
    });
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || { passes: 0, failures: 0 };
      // Printed after the spec epilogue so it is the last line of `make test`.
      process.on('exit', () => { process.stdout.write(`${slowestFiles(10)}${failedList(failed)}\n${s.passes} passed, ${s.failures} failed\n`); });
    });
  }
}
module.exports = SummaryReporter;
