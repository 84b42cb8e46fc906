// Dictionaries in libFuzzer's format (`name="value"` or `"value"`, `\\`, `\"` and `\xAB` escapes,
// `#` comments), so that one file per target serves both this runner and Jazzer.js (-dict=).

import fs from 'node:fs';

export function parseDictionary(text: string, file = 'dictionary'): Buffer[] {
  const out: Buffer[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:[A-Za-z0-9_]+\s*=\s*)?"(.*)"$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: not a dictionary entry: ${line}`);
    const bytes: number[] = [];
    const body = m[1];
    for (let j = 0; j < body.length; j++) {
      const c = body[j];
      if (c !== '\\') {
        bytes.push(...Buffer.from(c, 'utf8'));
        continue;
      }
      const next = body[++j];
      if (next === 'x' && /^[0-9A-Fa-f]{2}$/.test(body.slice(j + 1, j + 3))) {
        bytes.push(parseInt(body.slice(j + 1, j + 3), 16));
        j += 2;
      } else if (next === '\\' || next === '"') {
        bytes.push(next.charCodeAt(0));
      } else {
        throw new Error(`${file}:${i + 1}: unknown escape \\${next}`);
      }
    }
    out.push(Buffer.from(bytes));
  });
  return out;
}

export function readDictionary(file: string): Buffer[] {
  return fs.existsSync(file) ? parseDictionary(fs.readFileSync(file, 'utf8'), file) : [];
}
