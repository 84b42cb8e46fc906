'use strict';
// Mocha's spec output for people, then the one line CI reads: "N passed, N failed".
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || { passes: 0, failures: 0 };
      // Printed after the spec epilogue so it is the last line of `make test`.
      process.on('exit', () => { process.stdout.write(`\n${s.passes} passed, ${s.failures} failed\n`); });
    });
  }
}
module.exports = SummaryReporter;
