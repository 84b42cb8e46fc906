// The tax bureau (SWSX): exports batches of status changes as XML files into a folder, each
// followed by an empty .ok marker, per departments/tax-bureau/SPEC.md.

import * as fs from 'node:fs';
import { once } from 'node:events';
import * as path from 'node:path';
import * as iconv from 'iconv-lite';
import pino, { Logger } from 'pino';
import { beijingCompact } from './beijing-time';
import { breakCheckChar, enterprise, landline, mobile, personName } from './identities';
import { DailySerial } from './daily-serial';
import { CasePool, Step, planLifecycle } from './lifecycle';
import { OutageLog } from './outage-log';
import { Random } from './random';
import { SimulatorLoop, sleep } from './simulator-loop';

export const TAX_NAMESPACE = 'urn:gov:chinatax:swsx:v2';
export const TAX_OFFICE_CODE = '11301000000';

/** The bureau's item codes and names (the catalogue's 130100-SW-000n). */
export const TAX_ITEMS: Readonly<Record<string, string>> = {
  'SW-0001': '增值税一般纳税人登记',
  'SW-0002': '发票领用核定',
  'SW-0003': '增值税专用发票最高开票限额审批',
  'SW-0004': '清税注销',
};

export type TaxRecord = {
  SWSXBH: string;
  SXDM: string;
  SXMC: string;
  NSRSBH: string;
  NSRMC: string;
  BLZT: string;
  ZTSJ: string;
  JBRY: string;
  JGM: string;
  LXDH: string;
};

export type TaxEncoding = 'GB18030' | 'GBK' | 'UTF-8';

const BLZT: Record<Step, string> = {
  SUBMITTED: '01',
  ACCEPTED: '02',
  UNDER_REVIEW: '03',
  SUPPLEMENT_REQUESTED: '04',
  SUPPLEMENTED: '05',
  APPROVED: '06',
  DENIED: '07',
  COMPLETED: '08',
  WITHDRAWN: '09',
  REFUSED: '10',
  SUSPENDED: '11',
  RESUMED: '12',
  // The bureau records no hand-over; its cases end at 08.
  DELIVERED: '08',
};

export type BatchXmlOptions = {
  /** 批次号, e.g. 20261124093000001. */
  pch: string;
  swjgdm?: string;
  /** 生成时间: yyyyMMddHHmmss, or an instant. */
  scsj: string | Date | number;
  encoding: TaxEncoding;
  /** The JLS attribute; the record count unless a test wants a wrong one. */
  jls?: number;
};

/** A batch file exactly as the bureau writes it, encoded as it declares. */
export function buildBatchXml(records: readonly TaxRecord[], options: BatchXmlOptions): Buffer {
  const xml = batchHeader(options, options.jls ?? records.length) + records.map(recordXml).join('') + BATCH_FOOTER;
  return iconv.encode(xml, options.encoding);
}

function batchHeader(options: BatchXmlOptions, jls: number): string {
  const scsj = typeof options.scsj === 'string' ? options.scsj : beijingCompact(options.scsj);
  return (
    `<?xml version="1.0" encoding="${options.encoding}"?>\n` +
    `<SWSXBatch xmlns="${TAX_NAMESPACE}" PCH="${attr(options.pch)}" SWJGDM="${attr(options.swjgdm ?? TAX_OFFICE_CODE)}" SCSJ="${attr(scsj)}" JLS="${jls}">\n`
  );
}

const BATCH_FOOTER = '</SWSXBatch>\n';
const FIELDS: (keyof TaxRecord)[] = ['SWSXBH', 'SXDM', 'SXMC', 'NSRSBH', 'NSRMC', 'BLZT', 'ZTSJ', 'JBRY', 'JGM', 'LXDH'];

function recordXml(r: TaxRecord): string {
  return `  <JL>\n${FIELDS.map((f) => `    <${f}>${text(r[f])}</${f}>\n`).join('')}  </JL>\n`;
}

export type DropOptions = {
  /** File name; `SWSX_<SWJGDM>_<now>_<seq4>.xml` by default. */
  name?: string;
  /** Time between the file and its .ok marker. */
  markerDelayMs?: number;
  /** Leave the file without its marker, as an export that never finished. */
  omitMarker?: boolean;
  /** When aborted during the delay, the marker is written at once. */
  signal?: AbortSignal;
};

let dropSeq = 0;

/** Writes a batch file into the inbox, then its empty `.ok` marker; resolves to the file's path. */
export async function dropBatch(inboxDir: string, xml: Buffer, options: DropOptions = {}): Promise<string> {
  const file = await writeBatchFile(inboxDir, xml, options.name);
  if (!options.omitMarker) await writeMarker(file, options.markerDelayMs ?? 0, options.signal);
  return file;
}

async function writeBatchFile(inboxDir: string, xml: Buffer, name: string | undefined): Promise<string> {
  await fs.promises.mkdir(inboxDir, { recursive: true });
  if (name) {
    const file = path.join(inboxDir, name);
    await fs.promises.writeFile(file, xml);
    return file;
  }
  const swjgdm = /SWJGDM="([^"]*)"/.exec(xml.subarray(0, 512).toString('latin1'))?.[1] || TAX_OFFICE_CODE;
  return writeNew(inboxDir, (seq) => `SWSX_${swjgdm}_${beijingCompact(Date.now())}_${seq}.xml`, xml);
}

async function writeMarker(file: string, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (delayMs > 0) await sleep(delayMs, signal);
  await fs.promises.writeFile(`${file}.ok`, '');
}

// Exclusive create, so two drops in the same second never overwrite each other.
async function writeNew(dir: string, nameFor: (seq4: string) => string, data: Buffer): Promise<string> {
  for (;;) {
    dropSeq = (dropSeq % 9999) + 1;
    const file = path.join(dir, nameFor(String(dropSeq).padStart(4, '0')));
    try {
      await fs.promises.writeFile(file, data, { flag: 'wx' });
      return file;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

type TaxCase = Omit<TaxRecord, 'BLZT' | 'ZTSJ' | 'JBRY' | 'JGM'> & { officer: string };

export type TaxRecordStreamOptions = { seed?: number | string; rng?: Random; clock?: () => number; poolSize?: number };

/** Plausible tax-bureau case life-cycles, as the records of its export files. */
export class TaxRecordStream {
  readonly rng: Random;
  private readonly pool: CasePool<TaxCase>;
  private readonly serials: DailySerial;

  constructor(options: TaxRecordStreamOptions = {}) {
    this.rng = options.rng ?? new Random(options.seed);
    this.serials = new DailySerial(this.rng, 1, 999_999);
    this.pool = new CasePool<TaxCase>({
      rng: this.rng,
      clock: options.clock,
      size: options.poolSize,
      open: (rng, firstTime) => {
        const SXDM = rng.weighted<string>([['SW-0001', 3], ['SW-0002', 4], ['SW-0003', 2], ['SW-0004', 1]]);
        const taxpayer = enterprise(rng);
        const instant = SXDM === 'SW-0002' && rng.chance(0.3);
        return {
          subject: {
            SWSXBH: this.newCaseNumber(firstTime),
            SXDM,
            SXMC: TAX_ITEMS[SXDM],
            NSRSBH: taxpayer.creditCode,
            NSRMC: taxpayer.name,
            LXDH: rng.chance(0.6) ? landline(rng) : mobile(rng),
            officer: personName(rng),
          },
          steps: planLifecycle(rng, { delivers: false, instant }),
          instant,
        };
      },
    });
  }

  /** The next record; `at` forces its status time. */
  next(at?: number): TaxRecord {
    const e = this.pool.next({ at });
    const { officer, ...c } = e.subject;
    const code = BLZT[e.step];
    return {
      SWSXBH: c.SWSXBH,
      SXDM: c.SXDM,
      SXMC: c.SXMC,
      NSRSBH: c.NSRSBH,
      NSRMC: c.NSRMC,
      BLZT: code,
      ZTSJ: beijingCompact(e.time),
      JBRY: code === '01' ? '' : officer,
      JGM: '',
      LXDH: c.LXDH,
    };
  }

  /** Records in the order the bureau recorded them. */
  nextRecords(n: number): TaxRecord[] {
    const records = Array.from({ length: n }, () => this.next());
    return records.sort((a, b) => a.ZTSJ.localeCompare(b.ZTSJ));
  }

  // SX + region + date + 6-digit serial, e.g. SX13010020261124000017.
  private newCaseNumber(at: number): string {
    const day = beijingCompact(at).slice(0, 8);
    return `SX130100${day}${this.serials.next(day, 6)}`;
  }
}

/** A copy of the record with a wrong check character in its taxpayer number. */
export function withBadTaxpayerId(record: TaxRecord): TaxRecord {
  return { ...record, NSRSBH: breakCheckChar(record.NSRSBH, 'uscc') };
}

export type LargeBatchOptions = {
  records: number;
  encoding: TaxEncoding;
  seed?: number | string;
  pch?: string;
  swjgdm?: string;
  /** Export time; the records span the month before it. */
  scsj?: Date | number;
};

/**
 * Streams a month-end sized batch (hundreds of thousands of records, hundreds of MB) to disk
 * in bounded memory, for benchmarks. No marker is written: drop it with a `.ok` when ready.
 */
export async function writeLargeBatchFile(file: string, options: LargeBatchOptions): Promise<{ bytes: number; records: number }> {
  const exportedAt = new Date(options.scsj ?? Date.now()).getTime();
  const stream = new TaxRecordStream({ seed: options.seed, poolSize: 2000 });
  const span = 30 * 24 * 3600_000;
  const step = Math.max(1000, Math.floor(span / Math.max(1, options.records)));
  let t = exportedAt - span;

  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const out = fs.createWriteStream(file);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined); // observed below; keeps an early error from going unhandled
  let bytes = 0;
  const write = async (s: string): Promise<void> => {
    const chunk = iconv.encode(s, options.encoding);
    bytes += chunk.length;
    if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
  };

  const scsj = beijingCompact(exportedAt);
  await write(batchHeader({ pch: options.pch ?? `${scsj}001`, swjgdm: options.swjgdm, scsj, encoding: options.encoding }, options.records));
  const CHUNK = 1000;
  for (let written = 0; written < options.records; written += CHUNK) {
    let s = '';
    for (let i = written; i < Math.min(options.records, written + CHUNK); i++) {
      t += step;
      s += recordXml(stream.next(t));
    }
    await write(s);
  }
  await write(BATCH_FOOTER);
  out.end();
  await Promise.race([once(out, 'finish'), failed]);
  return { bytes, records: options.records };
}

/** About how many records make a file of `bytes` (month-end files reach 200 MB). */
export function estimateRecordsForBytes(bytes: number, encoding: TaxEncoding, seed: number | string = 1): number {
  const stream = new TaxRecordStream({ seed });
  let t = Date.parse('2026-11-01T09:00:00+08:00');
  let sample = '';
  for (let i = 0; i < 2000; i++) sample += recordXml(stream.next((t += 5000)));
  return Math.ceil(bytes / (iconv.encode(sample, encoding).length / 2000));
}

export type TaxBureauDropSimulatorOptions = {
  inboxDir: string;
  intervalMs?: number;
  logger?: Logger;
  seed?: number | string;
  /** Clock for status times (not for retry delays); a test passes a virtual one. */
  clock?: () => number;
  /** Dropping pauses while this many batch files wait in the inbox (a hub that does not read it). */
  maxWaitingFiles?: number;
  resendChance?: number;
  badRecordChance?: number;
  lateMarkerChance?: number;
  /** How late a late marker is: [min, max] ms. */
  lateMarkerMs?: readonly [number, number];
};

/** Drops a batch file every interval as the bureau's exporter does, quirks included. */
export class TaxBureauDropSimulator {
  readonly stream: TaxRecordStream;
  private readonly logger: Logger;
  private readonly loop: SimulatorLoop;
  private readonly outages: OutageLog;
  private readonly clock: () => number;
  private readonly pending = new Set<Promise<unknown>>();
  private previous?: Buffer;
  private seq = 0;
  private batchSeq = 0;

  constructor(private readonly options: TaxBureauDropSimulatorOptions) {
    this.logger = (options.logger ?? pino()).child({ simulator: 'tax-bureau-drop' });
    this.clock = options.clock ?? Date.now;
    this.stream = new TaxRecordStream({ seed: options.seed, clock: options.clock });
    this.outages = new OutageLog(this.logger, {
      down: 'the hub is not reading the tax-bureau inbox; dropping paused (logged once)',
      still: 'the tax-bureau inbox is still full',
      up: 'the hub reads the tax-bureau inbox again; dropping resumed',
    });
    this.loop = new SimulatorLoop(options.intervalMs ?? 15_000, (signal) => this.tick(signal), this.logger);
  }

  start(): void {
    this.loop.start();
  }

  /** Stops dropping; markers still waiting are written at once. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.pending]);
  }

  private async tick(signal: AbortSignal): Promise<void> {
    const inbox = this.options.inboxDir;
    const waiting = await countBatchFiles(inbox);
    if (waiting >= (this.options.maxWaitingFiles ?? 50)) {
      this.outages.failed(inbox, `${waiting} batch files waiting`);
      return;
    }
    this.outages.succeeded(inbox);
    const rng = this.stream.rng;
    let xml: Buffer;
    let fields: Record<string, unknown>;
    if (this.previous && rng.chance(this.options.resendChance ?? 0.05)) {
      // After a restart the exporter sends a file again: same bytes, new name.
      xml = this.previous;
      fields = { resent: true };
    } else {
      const records = this.stream.nextRecords(rng.int(1, 30));
      if (rng.chance(this.options.badRecordChance ?? 0.08)) {
        const i = rng.int(0, records.length - 1);
        records[i] = withBadTaxpayerId(records[i]);
      }
      const now = this.clock();
      this.batchSeq = (this.batchSeq % 999) + 1;
      const scsj = beijingCompact(now);
      const encoding: TaxEncoding = rng.chance(0.85) ? 'GB18030' : 'UTF-8';
      xml = buildBatchXml(records, { pch: `${scsj}${String(this.batchSeq).padStart(3, '0')}`, scsj, encoding });
      fields = { records: records.length, encoding };
    }
    this.previous = xml;
    const [min, max] = this.options.lateMarkerMs ?? [2000, 8000];
    const markerDelayMs = rng.chance(this.options.lateMarkerChance ?? 0.15) ? rng.int(min, max) : rng.int(0, 200);
    this.seq = (this.seq % 9999) + 1;
    const name = `SWSX_${TAX_OFFICE_CODE}_${beijingCompact(this.clock())}_${String(this.seq).padStart(4, '0')}.xml`;
    // The file is written before the next tick counts the inbox; only its marker may lag.
    const file = await writeBatchFile(inbox, xml, name);
    this.logger.info({ file: name, bytes: xml.length, markerDelayMs, ...fields }, 'batch file dropped');
    const marker = writeMarker(file, markerDelayMs, signal)
      .catch((err: unknown) => this.logger.error({ err, file: name }, 'could not write a marker'))
      .finally(() => this.pending.delete(marker));
    this.pending.add(marker);
  }
}

async function countBatchFiles(dir: string): Promise<number> {
  try {
    return (await fs.promises.readdir(dir)).filter((f) => /^SWSX_.*\.xml$/.test(f)).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

function text(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;');
}
