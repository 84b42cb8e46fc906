import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { XMLParser } from 'fast-xml-parser';
import { ADAPTERS_DIR } from '../../../../core/kernel/paths';
import { stageReceipt, publishReceipt, receiptPaths, toStoredResults, recordFields, receiptName, ReceiptSpec, ReceiptContent, StoredResults } from './file-drop-receipt';

// The tax bureau's receipt as its adapter definition describes it.
const SPEC: ReceiptSpec = YAML.parse(fs.readFileSync(path.join(ADAPTERS_DIR, 'tax-bureau', 'adapter.yaml'), 'utf8')).transport.options.receipt;

async function* chunks(...list: StoredResults[]): AsyncIterable<StoredResults> {
  yield* list;
}

/** A receipt staged and published at once, as a file answered without interruption gets it. */
async function writeReceipt(spec: ReceiptSpec, dir: string, content: ReceiptContent): Promise<string> {
  await stageReceipt(spec, dir, content);
  assert.equal(await publishReceipt(spec, dir, content.fileName, content.fileId), 'published');
  return receiptPaths(spec, dir, content.fileName, content.fileId).final;
}

describe('file-drop receipts', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'receipt-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  it('names the receipt after the file and keeps the record fields it quotes', () => {
    assert.equal(receiptName(SPEC, 'SWSX_11301000000_20261124093000_0001.xml'), 'SWSX_11301000000_20261124093000_0001.receipt.xml');
    assert.deepEqual(recordFields(SPEC), ['SWSXBH']);
  });

  it('writes one JG per record in file order, counts, PCH and CLSJ in Beijing time, then the .ok marker', async () => {
    const fields = recordFields(SPEC);
    const first = toStoredResults(fields, [{ SWSXBH: 'SX1' }, { SWSXBH: 'SX2' }], [
      { index: 0, result: 'accepted', eventId: 'e1', supervisionCode: '130100202611240000000001' },
      { index: 1, result: 'rejected', field: 'NSRSBH', rule: 'check-character', reason: '纳税人识别号校验位错误 (NSRSBH: expected check character Q, got A) & <more>' },
    ]);
    const second = toStoredResults(fields, [{ SWSXBH: 'SX1' }], [{ index: 2, result: 'duplicate', eventId: 'e3', supervisionCode: '130100202611240000000001' }]);
    const file = await writeReceipt(SPEC, dir, {
      fileId: 'f1', fileName: 'SWSX_11301000000_20261124093000_0001.xml', batch: { PCH: '20261124093000001' }, finishedAt: new Date('2026-11-24T01:30:12Z'),
      applied: 2, rejected: 1, error: null, results: chunks(first, second),
    });
    assert.ok(fs.existsSync(`${file}.ok`));
    assert.equal(fs.readFileSync(`${file}.ok`).length, 0);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(file), `${path.basename(file)}.ok`]);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<SWSXReceipt xmlns="urn:gov:chinatax:swsx:v2" PCH="20261124093000001" CLSJ="20261124093012" CGS="2" SBS="1">/);
    const r = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text).SWSXReceipt;
    assert.deepEqual(r.JG, [
      { SWSXBH: 'SX1', ZT: '1', JGM: '130100202611240000000001' },
      { SWSXBH: 'SX2', ZT: '0', YY: '纳税人识别号校验位错误 (NSRSBH: expected check character Q, got A) & <more>' },
      { SWSXBH: 'SX1', ZT: '1', JGM: '130100202611240000000001' },
    ]);
  });

  it('answers a file refused as a whole with CGS="0" SBS="0", an empty PCH when unread, one CW and no JG', async () => {
    const file = await writeReceipt(SPEC, dir, {
      fileId: 'f2', fileName: 'SWSX_11301000000_20261124093000_0002.xml', batch: {}, finishedAt: new Date(), applied: 0, rejected: 0,
      error: '文件含有 DOCTYPE 声明，不予处理', results: chunks(),
    });
    const r = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false }).parse(fs.readFileSync(file, 'utf8')).SWSXReceipt;
    assert.equal(r.PCH, '');
    assert.equal(r.CGS, '0');
    assert.equal(r.SBS, '0');
    assert.equal(r.CW, '文件含有 DOCTYPE 声明，不予处理');
    assert.equal(r.JG, undefined);
  });

  it('writes the same bytes when written again (a restart before the receipt was recorded)', async () => {
    const content = () => ({
      fileId: 'f3', fileName: 'SWSX_11301000000_20261124093000_0003.xml', batch: { PCH: 'P' }, finishedAt: new Date('2026-11-24T01:30:12Z'), applied: 1, rejected: 0, error: null,
      results: chunks(toStoredResults(['SWSXBH'], [{ SWSXBH: 'SX9' }], [{ index: 0, result: 'accepted', eventId: 'e', supervisionCode: 'C' }])),
    });
    const file = await writeReceipt(SPEC, dir, content());
    const once = fs.readFileSync(file);
    await writeReceipt(SPEC, dir, content());
    assert.deepEqual(fs.readFileSync(file), once);
    assert.equal(fs.readdirSync(dir).length, 2);
  });

  it('publishes a staged receipt once: run again after the rename it only adds a missing marker, and after the department took the receipt it writes nothing', async () => {
    const content = {
      fileId: 'f4', fileName: 'SWSX_11301000000_20261124093000_0004.xml', batch: { PCH: 'P' }, finishedAt: new Date('2026-11-24T01:30:12Z'), applied: 1, rejected: 0, error: null,
      results: chunks(toStoredResults(['SWSXBH'], [{ SWSXBH: 'SX9' }], [{ index: 0, result: 'accepted', eventId: 'e', supervisionCode: 'C' }])),
    };
    await stageReceipt(SPEC, dir, content);
    const { final } = receiptPaths(SPEC, dir, content.fileName, content.fileId);
    assert.equal(fs.existsSync(final), false, 'a staged receipt is not visible under its name');
    assert.equal(await publishReceipt(SPEC, dir, content.fileName, content.fileId), 'published');
    const bytes = fs.readFileSync(final);
    assert.deepEqual(fs.readdirSync(dir).sort(), [path.basename(final), `${path.basename(final)}.ok`]);

    // Stopped between the rename and the marker: the marker is added, the receipt left as it is.
    fs.rmSync(`${final}.ok`);
    assert.equal(await publishReceipt(SPEC, dir, content.fileName, content.fileId), 'published');
    assert.deepEqual(fs.readFileSync(final), bytes);
    assert.ok(fs.existsSync(`${final}.ok`));

    // The department took the receipt and its marker: nothing is written again.
    fs.rmSync(final);
    fs.rmSync(`${final}.ok`);
    assert.equal(await publishReceipt(SPEC, dir, content.fileName, content.fileId), 'taken');
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
