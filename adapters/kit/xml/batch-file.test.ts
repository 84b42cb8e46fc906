import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as iconv from 'iconv-lite';
import { readBatchFile, BatchFileFormat, IndexedRecord, CorruptFile } from './batch-file';

const FORMAT: BatchFileFormat = {
  root: 'SWSXBatch', record: 'JL', countAttribute: 'JLS', encodings: ['GB18030', 'GBK', 'UTF-8'], fallbackEncoding: 'UTF-8', maxBytes: 1024 * 1024,
};

function batch(records: string[], opts: { encoding?: string; declare?: boolean; jls?: number; head?: string } = {}): string {
  const enc = opts.encoding ?? 'GB18030';
  const decl = opts.declare === false ? '' : `<?xml version="1.0" encoding="${enc}"?>\n`;
  return `${decl}${opts.head ?? ''}<SWSXBatch xmlns="urn:gov:chinatax:swsx:v2" PCH="P1" SWJGDM="11301000000" JLS="${opts.jls ?? records.length}">\n${records.join('\n')}\n</SWSXBatch>\n`;
}

const jl = (n: number, name = '石家庄恒泰商贸有限公司') => `  <JL><SWSXBH>SX${n}</SWSXBH><NSRMC>${name}</NSRMC><JBRY></JBRY></JL>`;

async function all(bytes: Buffer, format = FORMAT, skip = 0): Promise<{ records: IndexedRecord[]; batch: Record<string, string> }> {
  const records: IndexedRecord[] = [];
  let b: Record<string, string> = {};
  // Small blocks, so that records and multi-byte characters straddle them.
  await readBatchFile(bytes, format, { skip, blockBytes: 7, onRecords: (recs, bb) => { records.push(...recs); b = bb; } });
  return { records, batch: b };
}

describe('readBatchFile: an XML batch file read as a stream', () => {
  it('decodes GB18030 by its declaration, builds each record and counts them against JLS', async () => {
    const bytes = iconv.encode(batch([jl(1), jl(2, '张三·李四'), jl(3)]), 'GB18030');
    const summary = await readBatchFile(bytes, FORMAT);
    assert.equal(summary.corrupt, undefined);
    assert.equal(summary.records, 3);
    assert.equal(summary.encoding, 'GB18030');
    assert.equal(summary.size, bytes.length);
    assert.equal(summary.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(summary.batch.PCH, 'P1');
    const { records } = await all(bytes);
    assert.deepEqual(records.map((r) => r.index), [0, 1, 2]);
    assert.deepEqual(records[1].record, { SWSXBH: 'SX2', NSRMC: '张三·李四', JBRY: '' });
  });

  it('reads UTF-8 (declared, with a byte order mark, or undeclared by the fallback) and GBK', async () => {
    for (const bytes of [
      Buffer.from(batch([jl(1)], { encoding: 'UTF-8' })),
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(batch([jl(1)], { encoding: 'UTF-8' }))]),
      Buffer.from(batch([jl(1)], { declare: false })),
      iconv.encode(batch([jl(1)], { encoding: 'GBK' }), 'GBK'),
    ]) {
      const { records } = await all(bytes);
      assert.equal(records[0].record.NSRMC, '石家庄恒泰商贸有限公司');
    }
  });

  it('skips building the records before `skip` (a resumed file) but keeps their indexes', async () => {
    const bytes = iconv.encode(batch([jl(1), jl(2), jl(3), jl(4)]), 'GB18030');
    const { records } = await all(bytes, FORMAT, 2);
    assert.deepEqual(records.map((r) => [r.index, r.record.SWSXBH]), [[2, 'SX3'], [3, 'SX4']]);
  });

  it('reads attributes, repeated children and prefixed names', async () => {
    const xml = '<?xml version="1.0" encoding="UTF-8"?><s:SWSXBatch xmlns:s="urn:x" JLS="1"><s:JL ID="7"><s:A>1</s:A><s:A>2</s:A><s:B K="v">t</s:B></s:JL></s:SWSXBatch>';
    const { records } = await all(Buffer.from(xml));
    assert.deepEqual(records[0].record, { '@_ID': '7', A: ['1', '2'], B: { '@_K': 'v', '#text': 't' } });
  });

  const corrupt: [string, Buffer, CorruptFile['rule'], RegExp][] = [
    ['a truncated file', Buffer.from(batch([jl(1), jl(2)], { encoding: 'UTF-8' }).slice(0, 150)), 'not-well-formed', /格式正确/],
    ['JLS off by one', iconv.encode(batch([jl(1), jl(2)], { jls: 3 }), 'GB18030'), 'count', /JLS 为 3, 实有 2 条/],
    ['no JLS', Buffer.from('<?xml version="1.0" encoding="UTF-8"?><SWSXBatch></SWSXBatch>'), 'count', /JLS 缺失/],
    ['a DOCTYPE with entities', Buffer.from(batch([jl(1)], { encoding: 'UTF-8', head: '<!DOCTYPE SWSXBatch [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n' })), 'doctype', /DOCTYPE/],
    ['an undeclared entity', Buffer.from(batch([jl(1, '&nbsp;')], { encoding: 'UTF-8' })), 'not-well-formed', /undefined entity/],
    ['an encoding not allowed', Buffer.from(batch([jl(1)], { encoding: 'ISO-8859-1' })), 'charset', /ISO-8859-1/],
    ['UTF-16', iconv.encode(batch([jl(1)], { encoding: 'UTF-16' }), 'utf16'), 'charset', /UTF-16/],
    ['GB18030 bytes declared as UTF-8', iconv.encode(batch([jl(1)], { encoding: 'UTF-8' }), 'GB18030'), 'encoding', /UTF-8/],
    ['bytes invalid in GB18030', Buffer.concat([Buffer.from('<?xml version="1.0" encoding="GB18030"?><SWSXBatch JLS="1"><JL><A>'), Buffer.from([0x81, 0x20]), Buffer.from('</A></JL></SWSXBatch>')]), 'encoding', /GB18030/],
    ['another batch element', Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Other JLS="0"/>'), 'root', /SWSXBatch/],
    ['text after the batch element', Buffer.from(`${batch([jl(1)], { encoding: 'UTF-8' })}junk`), 'not-well-formed', /outside of root/],
    ['an empty file', Buffer.alloc(0), 'not-well-formed', /为空/],
    // Such a record, refused by the mapping, could not be written as a dead letter (JSON.stringify
    // ran out of stack) and the file was tried again for ever; 64 levels stay readable.
    ['a record nested 5000 elements deep', Buffer.from(batch([jl(1).replace('<JBRY></JBRY>', `<JBRY>${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}</JBRY>`)], { encoding: 'UTF-8' })), 'too-deep', /嵌套过深/],
    ['elements nested 65 levels deep', Buffer.from(batch([jl(1).replace('<JBRY></JBRY>', `<JBRY>${'<a>'.repeat(62)}${'</a>'.repeat(62)}</JBRY>`)], { encoding: 'UTF-8' })), 'too-deep', /64 levels/],
  ];
  for (const [what, bytes, rule, reason] of corrupt) {
    it(`finds ${what} corrupt: reported by the checking pass (still hashed), thrown by the reading pass`, async () => {
      const summary = await readBatchFile(bytes, FORMAT);
      assert.equal(summary.corrupt?.rule, rule, summary.corrupt?.reason);
      assert.match(summary.corrupt!.reason, reason);
      assert.equal(summary.sha256, createHash('sha256').update(bytes).digest('hex'));
      await assert.rejects(all(bytes), (err: unknown) => err instanceof CorruptFile && err.rule === rule);
    });
  }

  it('reads elements nested 64 levels deep', async () => {
    const deep = jl(1).replace('<JBRY></JBRY>', `<JBRY>${'<a>'.repeat(61)}x${'</a>'.repeat(61)}</JBRY>`);
    const { records } = await all(Buffer.from(batch([deep], { encoding: 'UTF-8' })));
    assert.equal(records.length, 1);
  });

  it('refuses a file over the size limit without reading past it', async () => {
    const bytes = Buffer.from(batch(Array.from({ length: 50 }, (_, i) => jl(i)), { encoding: 'UTF-8' }));
    const summary = await readBatchFile(bytes, { ...FORMAT, maxBytes: 1000 }, { blockBytes: 256 });
    assert.equal(summary.corrupt?.rule, 'size');
    assert.equal(summary.sha256, null);
    assert.ok(summary.size <= 1256);
  });
});
