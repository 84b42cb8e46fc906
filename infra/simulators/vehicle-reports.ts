// Status reports of the vehicle office (VEH), the fields of ReportCaseStatusRequest and of each
// polled Record, per departments/vehicle-office/SPEC.md.

import { beijingCompact, beijingDateTime, parseBeijing } from './beijing-time';
import {
  breakCheckChar, citizenId, dottedName, enterprise, formattedMobile, legacyCitizenId, passportNumber,
  personName, toFullWidthDigits, xinjiangCitizenId,
} from './identities';
import { DailySerial } from './daily-serial';
import { maskedIdNumber, maskedPhone } from './log-mask';
import { CaseEvent, CasePool, Step, planLifecycle } from './lifecycle';
import { Random } from './random';

export type VehicleApplicant = { XM: string; SFZMMC: string; SFZMHM: string; LXDH?: string };

export type VehicleReport = {
  LSH: string;
  GLBM: string;
  SLBH: string;
  JGM?: string;
  YWLX: string;
  ZT: string;
  ZTSJ: string;
  SQR: VehicleApplicant;
  JBR?: string;
  BZ?: string;
};

export type VehicleHall = { GLBM: string; username: string; password: string; encoding: 'utf8' | 'gbk' };

export const VEHICLE_HALLS: readonly VehicleHall[] = [
  { GLBM: '130100000401', username: 'veh-hall-1', password: 'Veh1-demo-2026!', encoding: 'utf8' },
  // 二所's gateway still speaks GBK.
  { GLBM: '130100000402', username: 'veh-hall-2', password: 'Veh2-demo-2026!', encoding: 'gbk' },
];

const ZT: Record<Step, string> = {
  SUBMITTED: '0',
  ACCEPTED: '1',
  UNDER_REVIEW: '2',
  SUPPLEMENT_REQUESTED: '3',
  SUPPLEMENTED: '4',
  APPROVED: '5',
  DENIED: '6',
  COMPLETED: '7',
  DELIVERED: '8',
  WITHDRAWN: '9',
  REFUSED: 'E',
  SUSPENDED: 'G',
  RESUMED: 'H',
};

const BUSINESS_TYPES: readonly (readonly [string, number])[] = [['A', 30], ['B', 25], ['D', 15], ['K', 15], ['J1', 15]];

const REMARKS: Record<string, string[]> = {
  '0': ['二手车交易市场代办', '网上预约', '4S店代办'],
  '3': [
    '缺少机动车交通事故责任强制保险凭证', '缺少机动车来历凭证', '车辆识别代号拓印膜不清晰',
    '缺少身体条件证明', '身份证明已过期，请提交有效证件', '缺少机动车整车出厂合格证明',
  ],
  '4': ['补正材料已提交'],
  '6': ['车辆查验不合格', '车辆存在未处理的违法记录', '申请人不符合驾驶许可条件'],
  '9': ['申请人撤回申请'],
  E: ['车辆未在检验有效期内', '非本辖区业务', '车辆被查封，不予受理'],
  G: ['车辆外调核查', '待车辆技术检验', '待公安部档案核查'],
  H: ['核查完毕，恢复办理'],
};

type IdStyle = 'plain' | 'full-width' | 'lower-x' | 'legacy';

type VehicleCase = {
  GLBM: string;
  SLBH: string;
  YWLX: string;
  applicant: VehicleApplicant;
  officer: string;
};

export type VehicleReportStreamOptions = {
  seed?: number | string;
  rng?: Random;
  clock?: () => number;
  /** Halls (GLBM) the cases belong to; both by default. */
  halls?: readonly string[];
  /**
   * The range of the 5-digit serial in SLBH. SLBH is unique across the office, so two streams
   * that feed one hub (push and poll) must not share a range.
   */
  serialRange?: readonly [number, number];
  poolSize?: number;
  /** Share of reports with an ID number whose check character is wrong. */
  badIdChance?: number;
};

/** Plausible vehicle-office case life-cycles, as the reports the office sends. */
export class VehicleReportStream {
  readonly rng: Random;
  private readonly pool: CasePool<VehicleCase>;
  private readonly halls: readonly string[];
  private readonly serials: DailySerial;
  private readonly caseIndex = new Map<string, VehicleCase>();
  private readonly badIdChance: number;
  private lshCounter: number;

  constructor(options: VehicleReportStreamOptions = {}) {
    this.rng = options.rng ?? new Random(options.seed);
    this.halls = options.halls ?? VEHICLE_HALLS.map((h) => h.GLBM);
    const [lo, hi] = options.serialRange ?? [1, 59_999];
    this.serials = new DailySerial(this.rng, lo, hi);
    this.badIdChance = options.badIdChance ?? 0.02;
    this.lshCounter = this.rng.int(0, 899_999);
    this.pool = new CasePool<VehicleCase>({
      rng: this.rng,
      clock: options.clock,
      size: options.poolSize,
      open: (rng, firstTime) => {
        const YWLX = rng.weighted(BUSINESS_TYPES);
        return {
          subject: {
            GLBM: rng.pick(this.halls),
            SLBH: this.newSlbh(firstTime),
            YWLX,
            applicant: this.applicant(YWLX),
            officer: personName(rng),
          },
          steps: planLifecycle(rng, { delivers: true, instant: YWLX === 'K' }),
          instant: YWLX === 'K',
        };
      },
    });
  }

  /** The next report of some case; `at` forces its ZTSJ, `exclude` keeps cases out. */
  next(opts: { at?: number; exclude?: ReadonlySet<string> } = {}): VehicleReport {
    const exclude = opts.exclude ? this.casesBySlbh(opts.exclude) : undefined;
    return this.toReport(this.pool.next({ at: opts.at, exclude }));
  }

  /** The next report of the case with this SLBH, or undefined once the case is finished. */
  nextOf(slbh: string, at?: number): VehicleReport | undefined {
    const c = this.caseIndex.get(slbh);
    const e = c && this.pool.advance(c, at);
    return e && this.toReport(e);
  }

  private casesBySlbh(slbhs: ReadonlySet<string>): Set<VehicleCase> {
    const set = new Set<VehicleCase>();
    for (const s of slbhs) {
      const c = this.caseIndex.get(s);
      if (c) set.add(c);
    }
    return set;
  }

  private toReport(e: CaseEvent<VehicleCase>): VehicleReport {
    const c = e.subject;
    if (e.final) this.caseIndex.delete(c.SLBH);
    else this.caseIndex.set(c.SLBH, c);
    const zt = ZT[e.step];
    let SQR = c.applicant;
    if (this.rng.chance(this.badIdChance) && (SQR.SFZMMC === 'E' || (SQR.SFZMMC === 'A' && /^\S{18}$/.test(SQR.SFZMHM)))) {
      SQR = { ...SQR, SFZMHM: breakTyped(SQR.SFZMHM, SQR.SFZMMC === 'E' ? 'uscc' : 'citizen-id') };
    }
    const remarks = REMARKS[zt];
    const BZ = remarks && (zt !== '0' || this.rng.chance(0.3)) ? this.rng.pick(remarks) : '';
    this.lshCounter = (this.lshCounter + 1) % 1_000_000;
    return {
      LSH: `R${beijingCompact(e.time)}${String(this.lshCounter).padStart(6, '0')}`,
      GLBM: c.GLBM,
      SLBH: c.SLBH,
      JGM: '',
      YWLX: c.YWLX,
      ZT: zt,
      ZTSJ: beijingDateTime(e.time),
      SQR: { ...SQR },
      JBR: c.officer,
      BZ,
    };
  }

  private applicant(YWLX: string): VehicleApplicant {
    const rng = this.rng;
    const LXDH = formattedMobile(rng);
    // A company may own a vehicle, never hold a driving licence.
    const kind = rng.weighted<string>(YWLX === 'J1' ? [['A', 95], ['B', 5]] : [['A', 85], ['E', 10], ['B', 5]]);
    if (kind === 'E') {
      const e = enterprise(rng, rng.pick(['trade', 'manufacturing', 'services'] as const));
      return { XM: e.name, SFZMMC: 'E', SFZMHM: e.creditCode, LXDH };
    }
    if (kind === 'B') return { XM: rng.chance(0.5) ? personName(rng) : dottedName(rng), SFZMMC: 'B', SFZMHM: passportNumber(rng), LXDH };
    const style = rng.weighted<IdStyle>([['plain', 80], ['full-width', 8], ['lower-x', 7], ['legacy', 5]]);
    if (style === 'legacy') return { XM: personName(rng, { clerkTyped: true }), SFZMMC: 'A', SFZMHM: legacyCitizenId(rng), LXDH };
    const dotted = rng.chance(0.08);
    const XM = dotted ? dottedName(rng) : personName(rng, { clerkTyped: true });
    let id = dotted ? xinjiangCitizenId(rng) : citizenId(rng);
    // Only one number in eleven ends in X; make sure the lower-case x case actually happens.
    if (style === 'lower-x') {
      for (let i = 0; i < 50 && !id.endsWith('X'); i++) id = citizenId(rng);
      id = id.replace(/X$/, 'x');
    }
    if (style === 'full-width') id = toFullWidthDigits(id);
    return { XM, SFZMMC: 'A', SFZMHM: id, LXDH };
  }

  // SLBH: region + date of submission + 5-digit serial, e.g. 1301002026112400123.
  private newSlbh(at: number): string {
    const day = beijingCompact(at).slice(0, 8);
    return `130100${day}${this.serials.next(day, 5)}`;
  }
}

/** Breaks the check character of an ID as typed (full-width digits, lower-case x). */
function breakTyped(typed: string, kind: 'citizen-id' | 'uscc'): string {
  const fullWidth = /[０-９]/.test(typed);
  const plain = typed.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0));
  const broken = breakCheckChar(plain, kind);
  return fullWidth ? toFullWidthDigits(broken) : broken;
}

export type GenerateChangesOptions = {
  /** ZTSJ of the first record: a Date, epoch ms, or a Beijing `yyyy-MM-dd HH:mm:ss`. */
  start: Date | number | string;
  /**
   * About every `tiesEvery` records, a group of 30–150 records shares one ZTSJ, so that some
   * groups cross the 100-record page boundary; 0 for no deliberate ties. Default 100.
   */
  tiesEvery?: number;
  seed?: number | string;
  /** Continue an existing stream (its cases and counters) instead of starting a new one. */
  stream?: VehicleReportStream;
};

/** `n` changes in ZTSJ order, as the query service holds them, with many equal ZTSJ values. */
export function generateChanges(n: number, options: GenerateChangesOptions): VehicleReport[] {
  const stream = options.stream ?? new VehicleReportStream({ seed: options.seed, serialRange: [60_000, 99_999], poolSize: 200 });
  const rng = stream.rng;
  const tiesEvery = options.tiesEvery ?? 100;
  const start = options.start;
  let t = typeof start === 'string' ? parseBeijing(start) : new Date(start).getTime();
  t = Math.floor(t / 1000) * 1000;
  const gap = (): number => tiesEvery > 0 ? rng.int(Math.ceil(tiesEvery / 2), Math.ceil(tiesEvery * 1.5)) : Infinity;
  let untilTie = gap();
  const out: VehicleReport[] = [];
  while (out.length < n) {
    if (untilTie <= 0) {
      const size = Math.min(rng.int(30, 150), n - out.length);
      const inGroup = new Set<string>();
      for (let i = 0; i < size; i++) {
        const r = stream.next({ at: t, exclude: inGroup });
        inGroup.add(r.SLBH);
        out.push(r);
      }
      untilTie = gap();
    } else {
      out.push(stream.next({ at: t }));
      untilTie--;
    }
    t += rng.int(1, 20) * 1000;
  }
  return out;
}

/** Log fields for a report without personal data. */
export function describeReport(r: VehicleReport): Record<string, unknown> {
  return {
    LSH: r.LSH,
    GLBM: r.GLBM,
    SLBH: r.SLBH,
    ZT: r.ZT,
    SFZMHM: maskedIdNumber(r.SQR.SFZMHM),
    ...(r.SQR.LXDH ? { LXDH: maskedPhone(r.SQR.LXDH) } : {}),
  };
}
