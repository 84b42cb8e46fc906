'use strict';
// Generates contracts/types.ts from the JSON Schemas: the schemas are the source of truth and the
// TypeScript types follow from them. `--check` fails when the committed file is out of date.
const fs = require('node:fs');
const path = require('node:path');
const { compileFromFile } = require('json-schema-to-typescript');

const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'contracts', 'v1');
const out = path.join(root, 'contracts', 'types.ts');

async function generate() {
  const parts = ['/* Generated from contracts/v1/*.schema.json by `make types`; do not edit. */\n'];
  const seen = new Set();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json')).sort()) {
    const ts = await compileFromFile(path.join(dir, file), {
      cwd: dir, bannerComment: '', additionalProperties: false, declareExternallyReferenced: true, format: true,
      // Schema ids are absolute (https://hub.invalid/contracts/v1/…); read them from this folder.
      $refOptions: { resolve: { http: false, contracts: { order: 1, canRead: /^https:\/\/hub\.invalid\/contracts\/v1\//, read: (f) => fs.readFileSync(path.join(dir, path.basename(f.url)), 'utf8') } } },
    });
    // Referenced schemas are declared in each file that uses them: keep the first declaration.
    // A declaration's doc comment stands before it: split before either, and keep each comment with
    // the declaration that follows it, so that a skipped declaration takes its comment along.
    let comment = '';
    for (const piece of ts.split(/\n(?=export |\/\*\*)/)) {
      if (!piece.trim().startsWith('export ')) { comment += piece.trim() + '\n'; continue; }
      const block = comment + piece;
      comment = '';
      const name = (piece.trim().match(/^export (?:type|interface) (\w+)/) || [])[1];
      if (name && seen.has(name)) continue;
      if (name) seen.add(name);
      parts.push(block.trim() + '\n');
    }
  }
  return parts.join('\n');
}

generate().then((text) => {
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
    if (current !== text) { console.error('contracts/types.ts is out of date: run `make types`'); process.exit(1); }
    return;
  }
  fs.writeFileSync(out, text);
  console.log(`wrote ${path.relative(root, out)}`);
}, (err) => { console.error(err); process.exit(1); });
