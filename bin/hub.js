#!/usr/bin/env node
'use strict';
// The CLI is compiled TypeScript; `make build` (or `npm run build`) produces dist/.
require('../dist/cli/hub.js').main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(err && err.stack ? err.stack : err); process.exitCode = 1; },
);
