import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as iconv from 'iconv-lite';
import { XMLParser } from 'fast-xml-parser';
import { normaliseUscc } from '../../core/identifiers/uscc';
import { normalisePhone } from '../../core/identifiers/mobile';
import {
  TAX_ITEMS, TaxBureauDropSimulator, TaxRecord, TaxRecordStream, buildBatchXml, dropBatch, estimateRecordsForBytes, writeLargeBatchFile,
} from './tax-bureau';
import { WARN, capturingLogger, waitFor } from './test-support';

const FIXTURES = path.resolve(__dirname, '../../../infra/simulators/fixtures');
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false, isArray: (name) => name === 'JL' });

type Batch = { PCH: string; SWJGDM: string; SCSJ: string; JLS: string; JL: TaxRecord[] };

function readBatch(file: string | Buffer): { encoding: string; batch: Batch } {
  const bytes = Buffer.isBuffer(file) ? file : fs.readFileSync(file);
  const encoding = /encoding="([^"]+)"/.exec(bytes.subarray(0, 100).toString('latin1'))![1];
  const batch = parser.parse(iconv.decode(bytes, encoding)).SWSXBatch as Batch;
  for (const jl of batch.JL) for (const k of Object.keys(jl) as (keyof TaxRecord)[]) jl[k] = String(jl[k] ?? '');
  return { encoding, batch };
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swsx-'));
  tempDirs.push(dir);
  return dir;
}

describe('simulators: tax bureau', () => {
  after(() => tempDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('writes a batch exactly like the bureau’s sample file', () => {
    const sample = fs.readFileSync(path.join(FIXTURES, 'SWSX_11301000000_20261124093000_0001.xml'));
    const { batch } = readBatch(sample);
    const built = buildBatchXml(batch.JL, { pch: '20261124093000001', scsj: '20261124093000', encoding: 'GB18030' });
    assert.ok(built.equals(sample));
  });

  it('writes UTF-8 too, and a wrong JLS on request', () => {
    const records = new TaxRecordStream({ seed: 1 }).nextRecords(3);
    const xml = buildBatchXml(records, { pch: '20261124093000002', swjgdm: '11301000001', scsj: new Date('2026-11-24T01:30:00Z'), encoding: 'UTF-8', jls: 5 });
    const { encoding, batch } = readBatch(xml);
    assert.deepEqual([encoding, batch.PCH, batch.SWJGDM, batch.SCSJ, batch.JLS, batch.JL.length], ['UTF-8', '20261124093000002', '11301000001', '20261124093000', '5', 3]);
    assert.deepEqual(batch.JL, records);
  });

  it('drops the file first and its empty .ok marker after the delay', async () => {
    const inbox = path.join(tempDir(), 'inbox');
    const xml = buildBatchXml(new TaxRecordStream({ seed: 2 }).nextRecords(2), { pch: '1', scsj: '20261124093000', encoding: 'GB18030' });
    const dropping = dropBatch(inbox, xml, { markerDelayMs: 300 });
    await waitFor(() => fs.existsSync(inbox) && fs.readdirSync(inbox).length > 0, 1000, 'the file');
    const [name] = fs.readdirSync(inbox);
    assert.match(name, /^SWSX_11301000000_\d{14}_\d{4}\.xml$/);
    assert.ok(!fs.existsSync(path.join(inbox, `${name}.ok`)), 'no marker yet');
    const file = await dropping;
    assert.equal(file, path.join(inbox, name));
    assert.ok(fs.readFileSync(file).equals(xml));
    assert.equal(fs.readFileSync(`${file}.ok`).length, 0);

    const named = await dropBatch(inbox, xml, { name: 'SWSX_11301000000_20261124093000_0009.xml', omitMarker: true });
    assert.ok(fs.existsSync(named) && !fs.existsSync(`${named}.ok`));
    const again = await dropBatch(inbox, xml);
    assert.notEqual(again, file, 'a new name for the same bytes');
  });

  it('generates plausible records with valid taxpayer numbers', () => {
    let now = Date.parse('2026-11-24T09:00:00+08:00');
    const stream = new TaxRecordStream({ seed: 3, clock: () => (now += 30_000) });
    const records = Array.from({ length: 3000 }, () => stream.next());
    assert.deepEqual([...new Set(records.map((r) => r.BLZT))].sort(), ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12']);
    const byCase = new Map<string, TaxRecord[]>();
    for (const r of records) {
      assert.equal(r.SXMC, TAX_ITEMS[r.SXDM]);
      assert.match(r.SWSXBH, /^SX130100\d{14}$/);
      assert.match(r.ZTSJ, /^\d{14}$/);
      assert.ok(normaliseUscc(r.NSRSBH).ok, r.NSRSBH);
      assert.ok(normalisePhone(r.LXDH).ok, r.LXDH);
      assert.equal(r.JBRY === '', r.BLZT === '01');
      byCase.set(r.SWSXBH, [...(byCase.get(r.SWSXBH) ?? []), r]);
    }
    for (const [no, list] of byCase) {
      const codes = list.map((r) => r.BLZT);
      for (const final of ['08', '09', '10']) assert.ok(!codes.includes(final) || codes.at(-1) === final, `${no}: ${codes}`);
      assert.equal(new Set(list.map((r) => r.NSRSBH)).size, 1);
    }
    assert.ok(records.some((r) => r.LXDH.startsWith('0311-')) && records.some((r) => /^1\d{10}$/.test(r.LXDH)));
  });

  it('streams a large batch to disk in the declared encoding', async () => {
    const file = path.join(tempDir(), 'big.xml');
    for (const encoding of ['GB18030', 'UTF-8'] as const) {
      const result = await writeLargeBatchFile(file, { records: 5000, encoding, seed: 4 });
      assert.equal(result.records, 5000);
      assert.equal(result.bytes, fs.statSync(file).size);
      const { encoding: declared, batch } = readBatch(file);
      assert.deepEqual([declared, batch.JLS, batch.JL.length], [encoding, '5000', 5000]);
      assert.ok(batch.JL.every((r, i) => i === 0 || r.ZTSJ >= batch.JL[i - 1].ZTSJ));
      const estimate = estimateRecordsForBytes(result.bytes, encoding);
      assert.ok(Math.abs(estimate - 5000) < 250, `${estimate} records estimated for ${result.bytes} bytes`);
    }
  });

  it('drops files every interval: mostly GB18030, sometimes late markers, re-sends and bad records', async () => {
    const inbox = tempDir();
    const sim = new TaxBureauDropSimulator({
      inboxDir: inbox, intervalMs: 5, seed: 5, resendChance: 0.2, badRecordChance: 0.3, lateMarkerChance: 0.2, lateMarkerMs: [150, 250],
      logger: capturingLogger().logger,
    });
    try {
      sim.start();
      await waitFor(() => fs.readdirSync(inbox).filter((f) => f.endsWith('.xml')).length >= 40, 3000, '40 files');
    } finally {
      await sim.stop();
    }
    const files = fs.readdirSync(inbox).filter((f) => f.endsWith('.xml')).sort();
    const bytes = files.map((f) => fs.readFileSync(path.join(inbox, f)).toString('base64'));
    const encodings = new Map<string, number>();
    let bad = 0;
    for (const f of files) {
      assert.match(f, /^SWSX_11301000000_\d{14}_\d{4}\.xml$/);
      assert.ok(fs.existsSync(path.join(inbox, `${f}.ok`)), `stop() writes the marker of ${f}`);
      const { encoding, batch } = readBatch(path.join(inbox, f));
      encodings.set(encoding, (encodings.get(encoding) ?? 0) + 1);
      assert.equal(Number(batch.JLS), batch.JL.length);
      bad += batch.JL.filter((r) => !normaliseUscc(r.NSRSBH).ok).length;
    }
    assert.ok((encodings.get('GB18030') ?? 0) > (encodings.get('UTF-8') ?? 0));
    assert.ok(bad > 0, 'some records carry a bad taxpayer number');
    assert.ok(new Set(bytes).size < bytes.length, 'a file was re-sent under a new name');
  });

  it('pauses, warning once, while nobody empties the inbox', async () => {
    const inbox = tempDir();
    const { logger, lines } = capturingLogger();
    const sim = new TaxBureauDropSimulator({ inboxDir: inbox, intervalMs: 5, seed: 6, maxWaitingFiles: 5, logger });
    sim.start();
    // Until it has paused (on a busy machine that can take longer than any fixed wait), then many
    // more of its 5 ms rounds, in which it must neither drop a file nor warn again.
    await waitFor(() => lines.some((l) => l.level >= WARN), 10_000, 'the pause warning');
    await new Promise((r) => setTimeout(r, 300));
    await sim.stop();
    assert.equal(fs.readdirSync(inbox).filter((f) => f.endsWith('.xml')).length, 5);
    assert.equal(lines.filter((l) => l.level >= WARN).length, 1);
  });
});
