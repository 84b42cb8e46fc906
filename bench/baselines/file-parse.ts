// The file scenario's baseline: the tax bureau's batch file read as a stream, decoded by iconv-lite
// and parsed by saxes to nothing but a count of its records (<JL> elements), in a process of its
// own. What any hub must at least do with the file before it checks, maps or stores a record.
//
//   node dist/bench/baselines/file-parse.js <file> [encoding]     (encoding: GB18030 by default)
//
// Prints one line of JSON: {"records", "seconds", "cpuSeconds", "rssIncreaseMb"}; the peak resident
// memory is sampled every 20 ms above what the process used before it opened the file.

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import * as iconv from 'iconv-lite';
import { SaxesParser } from 'saxes';

export interface ParseFigures {
  records: number;
  seconds: number;
  cpuSeconds: number;
  rssIncreaseMb: number;
}

export async function parseFile(file: string, encoding = 'GB18030', record = 'JL'): Promise<ParseFigures> {
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 20);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let records = 0;
  try {
    const parser = new SaxesParser({ xmlns: false });
    parser.on('closetag', (tag) => { if (tag.name === record) records++; });
    let failed: Error | null = null;
    parser.on('error', (err) => { failed ??= err; });
    const decoder = iconv.getDecoder(encoding);
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
      parser.write(decoder.write(chunk as Buffer));
      if (failed) break;
    }
    if (!failed) parser.write(decoder.end() ?? '').close();
    if (failed) throw new Error(`${file}: not well-formed XML after ${records} records: ${(failed as Error).message}`);
  } finally {
    clearInterval(sampler);
  }
  const cpu = process.cpuUsage(cpuBefore);
  peak = Math.max(peak, process.memoryUsage.rss());
  return { records, seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, rssIncreaseMb: (peak - rssBefore) / 1048576 };
}

if (require.main === module) {
  const [file, encoding] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: file-parse.js <file> [encoding]\n');
    process.exit(2);
  }
  parseFile(file, encoding).then(
    (f) => process.stdout.write(`${JSON.stringify(f)}\n`),
    (err) => { process.stderr.write(`file parse baseline: ${(err as Error).stack}\n`); process.exit(1); },
  );
}
