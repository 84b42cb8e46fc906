// The vehicle office (VEH): its halls push status reports to the hub over SOAP 1.1, and it
// serves the changes the hub polls for. Per departments/vehicle-office/SPEC.md.

import * as iconv from 'iconv-lite';
import { XMLParser } from 'fast-xml-parser';
import pino, { Logger } from 'pino';
import { BackoffOptions } from './backoff';
import { DeliveryQueue, DeliveryResult } from './delivery-queue';
import { charsetOf, httpPost } from './http-post';
import { OutageLog } from './outage-log';
import { SimulatorLoop } from './simulator-loop';
import { VEHICLE_HALLS, VehicleHall, VehicleReport, VehicleReportStream, describeReport } from './vehicle-reports';

export { VEHICLE_HALLS, VehicleApplicant, VehicleHall, VehicleReport, VehicleReportStream, describeReport, generateChanges } from './vehicle-reports';
export { VehicleQueryService, VehicleQueryServiceOptions, startVehicleQueryService } from './vehicle-query-service';

export const VEHICLE_NAMESPACE = 'urn:gov:sjz:veh:exchange:v1';
export const REPORT_SOAP_ACTION = `"${VEHICLE_NAMESPACE}#ReportCaseStatus"`;
const PASSWORD_TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';

export type VehicleEncoding = 'utf8' | 'gbk';

export type EnvelopeOptions = { username: string; password: string; encoding: VehicleEncoding };

/** A ReportCaseStatus request laid out exactly as the office's gateways send it (samples/). */
export function buildReportEnvelope(report: VehicleReport, options: EnvelopeOptions): Buffer {
  const el = (name: string, value: string | undefined, indent: string): string =>
    `${indent}<veh:${name}>${xmlText(value ?? '')}</veh:${name}>\n`;
  const i3 = '      ';
  const i4 = '        ';
  const q = report.SQR;
  const xml =
    `<?xml version="1.0" encoding="${options.encoding === 'gbk' ? 'GBK' : 'UTF-8'}"?>\n` +
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:veh="${VEHICLE_NAMESPACE}">\n` +
    `  <soapenv:Header>\n` +
    `    <wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">\n` +
    `      <wsse:UsernameToken>\n` +
    `        <wsse:Username>${xmlText(options.username)}</wsse:Username>\n` +
    `        <wsse:Password Type="${PASSWORD_TEXT}">${xmlText(options.password)}</wsse:Password>\n` +
    `      </wsse:UsernameToken>\n` +
    `    </wsse:Security>\n` +
    `  </soapenv:Header>\n` +
    `  <soapenv:Body>\n` +
    `    <veh:ReportCaseStatusRequest>\n` +
    el('LSH', report.LSH, i3) +
    el('GLBM', report.GLBM, i3) +
    el('SLBH', report.SLBH, i3) +
    el('JGM', report.JGM, i3) +
    el('YWLX', report.YWLX, i3) +
    el('ZT', report.ZT, i3) +
    el('ZTSJ', report.ZTSJ, i3) +
    `${i3}<veh:SQR>\n` +
    el('XM', q.XM, i4) +
    el('SFZMMC', q.SFZMMC, i4) +
    el('SFZMHM', q.SFZMHM, i4) +
    (q.LXDH === undefined ? '' : el('LXDH', q.LXDH, i4)) +
    `${i3}</veh:SQR>\n` +
    el('JBR', report.JBR, i3) +
    el('BZ', report.BZ, i3) +
    `    </veh:ReportCaseStatusRequest>\n` +
    `  </soapenv:Body>\n` +
    `</soapenv:Envelope>\n`;
  return options.encoding === 'gbk' ? iconv.encode(xml, 'gbk') : Buffer.from(xml, 'utf8');
}

export type PushAnswer = {
  status: number;
  body: string;
  fhdm?: number;
  fhxx?: string;
  jgm?: string;
  fault?: { faultcode: string; faultstring: string };
};

const answerParser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, processEntities: true });

/** POSTs a ReportCaseStatus envelope and reads the answer (FHDM/FHXX/JGM or a Fault). */
export async function pushReport(url: string, envelope: Buffer, options: { encoding: VehicleEncoding; signal?: AbortSignal }): Promise<PushAnswer> {
  const answer = await httpPost(
    url,
    envelope,
    {
      'Content-Type': `text/xml; charset=${options.encoding === 'gbk' ? 'GBK' : 'utf-8'}`,
      SOAPAction: REPORT_SOAP_ACTION,
    },
    { signal: options.signal },
  );
  const charset = charsetOf(String(answer.headers['content-type'] ?? '')) ?? 'utf-8';
  const body = iconv.encodingExists(charset) ? iconv.decode(answer.body, charset) : answer.body.toString('utf8');
  const result: PushAnswer = { status: answer.status, body };
  let doc: Record<string, unknown>;
  try {
    doc = answerParser.parse(body) as Record<string, unknown>;
  } catch {
    return result; // not XML (a 404 page, say): status and body tell the caller what came back
  }
  const soapBody = (doc?.Envelope as Record<string, unknown> | undefined)?.Body as Record<string, unknown> | undefined;
  const fault = soapBody?.Fault as Record<string, unknown> | undefined;
  if (fault) {
    result.fault = { faultcode: text(fault.faultcode), faultstring: text(fault.faultstring) };
    return result;
  }
  const response = soapBody?.ReportCaseStatusResponse as Record<string, unknown> | undefined;
  if (response) {
    if (response.FHDM !== undefined) result.fhdm = Number(text(response.FHDM));
    if (response.FHXX !== undefined) result.fhxx = text(response.FHXX);
    if (response.JGM !== undefined) result.jgm = text(response.JGM);
  }
  return result;
}

export type VehicleOfficePushSimulatorOptions = {
  url: string;
  intervalMs?: number;
  logger?: Logger;
  seed?: number | string;
  /** Clock for status times (not for retry delays); a test passes a virtual one. */
  clock?: () => number;
  /**
   * Retry delays. The real office waits 10 s, doubling to 1 h, for 24 h; the simulator's
   * defaults are shorter so the demo recovers quickly.
   */
  retry?: BackoffOptions;
  giveUpAfterMs?: number;
  halls?: readonly VehicleHall[];
  maxPending?: number;
  resendChance?: number;
  outOfOrderChance?: number;
  badIdChance?: number;
};

type Delivery = { report: VehicleReport; hall: VehicleHall; envelope: Buffer };

/** Both halls pushing reports as the office does: retries, repeats, the odd pair out of order. */
export class VehicleOfficePushSimulator {
  readonly stream: VehicleReportStream;
  private readonly logger: Logger;
  private readonly halls: readonly VehicleHall[];
  private readonly queue: DeliveryQueue<Delivery>;
  private readonly loop: SimulatorLoop;
  private readonly sent: Delivery[] = [];

  constructor(private readonly options: VehicleOfficePushSimulatorOptions) {
    this.logger = (options.logger ?? pino()).child({ simulator: 'vehicle-office-push' });
    this.halls = options.halls ?? VEHICLE_HALLS;
    this.stream = new VehicleReportStream({
      seed: options.seed,
      clock: options.clock,
      halls: this.halls.map((h) => h.GLBM),
      serialRange: [1, 59_999],
      badIdChance: options.badIdChance,
    });
    this.queue = new DeliveryQueue<Delivery>({
      endpoint: options.url,
      send: (d, _attempt, signal) => this.send(d, signal),
      describe: (d) => describeReport(d.report),
      backoff: options.retry ?? { initialMs: 1000, maxMs: 30_000 },
      giveUpAfterMs: options.giveUpAfterMs ?? 24 * 3600_000,
      rng: this.stream.rng,
      logger: this.logger,
      outages: new OutageLog(this.logger),
    });
    this.loop = new SimulatorLoop(options.intervalMs ?? 2000, (signal) => this.tick(signal), this.logger);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** The envelope a hall would send for this report. */
  deliveryFor(report: VehicleReport): Delivery {
    const hall = this.halls.find((h) => h.GLBM === report.GLBM) ?? this.halls[0];
    return { report, hall, envelope: buildReportEnvelope(report, hall) };
  }

  private async tick(signal: AbortSignal): Promise<void> {
    await this.queue.deliverDue(signal);
    if (this.queue.size >= (this.options.maxPending ?? 50)) return;
    const rng = this.stream.rng;
    const count = rng.int(1, 3);
    for (let i = 0; i < count; i++) {
      if (this.sent.length > 0 && rng.chance(this.options.resendChance ?? 0.04)) {
        // A retried report keeps its LSH; the hub must answer FHDM 1 again and apply nothing.
        this.queue.add(rng.pick(this.sent));
        continue;
      }
      const first = this.stream.next();
      const second = rng.chance(this.options.outOfOrderChance ?? 0.04) ? this.stream.nextOf(first.SLBH) : undefined;
      if (second) {
        // Two reports of one case overtaking each other on the way (separate retry schedules).
        this.queue.add(this.deliveryFor(second));
        this.queue.add(this.deliveryFor(first));
      } else {
        this.queue.add(this.deliveryFor(first));
      }
    }
    await this.queue.deliverDue(signal);
  }

  private async send(d: Delivery, signal: AbortSignal): Promise<DeliveryResult> {
    const answer = await pushReport(this.options.url, d.envelope, { encoding: d.hall.encoding, signal });
    if (answer.fhdm === 1) {
      this.remember(d);
      return { outcome: 'delivered', detail: { JGM: answer.jgm } };
    }
    if (answer.fhdm === -1) return { outcome: 'refused', reason: `FHDM -1 ${answer.fhxx ?? ''}`.trim() };
    if (answer.fhdm === -9) return { outcome: 'retry', reason: `FHDM -9 ${answer.fhxx ?? ''}`.trim() };
    if (answer.fault) {
      const reason = `${answer.fault.faultcode} ${answer.fault.faultstring}`;
      return /Server$/i.test(answer.fault.faultcode) ? { outcome: 'retry', reason } : { outcome: 'refused', reason };
    }
    // No SOAP answer at all (404 page, proxy error): as good as a transport error to the office.
    return { outcome: 'retry', reason: `HTTP ${answer.status} without a SOAP answer`, endpointMissing: true };
  }

  private remember(d: Delivery): void {
    this.sent.push(d);
    if (this.sent.length > 50) this.sent.shift();
  }
}

function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return text((v as Record<string, unknown>)['#text']);
  return String(v);
}

function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
