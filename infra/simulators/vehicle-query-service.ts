// The vehicle office's QueryChangedCases service, which the hub polls (SPEC section 2). Built on
// node-soap's server with the office's own WSDL, so the hub's client meets a real SOAP peer.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import * as soap from 'soap';
import { VehicleReport } from './vehicle-reports';

export const QUERY_PAGE_SIZE = 100;
const KSSJ_FORMAT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

export type VehicleQueryServiceOptions = {
  port?: number;
  host?: string;
  path?: string;
  username?: string;
  password?: string;
  /** Records served from the start. */
  records?: VehicleReport[];
};

export type VehicleQueryService = {
  url: string;
  close(): Promise<void>;
  /**
   * Makes changes visible, as the office does while the hub pages through them. Throws when a
   * record would break the office's promises: an LSH it already holds (a record is never
   * altered), or a ZTSJ earlier than one already served.
   */
  addRecords(records: VehicleReport[]): void;
  /** Every record, in the order served. */
  records(): VehicleReport[];
  /** QueryChangedCases calls received so far. */
  readonly requests: number;
};

type QueryArgs = { KSSJ?: unknown; YS?: unknown };
type SoapFault = { Fault: { faultcode: string; faultstring: string; statusCode: number } };

export async function startVehicleQueryService(options: VehicleQueryServiceOptions = {}): Promise<VehicleQueryService> {
  const host = options.host ?? '127.0.0.1';
  const servicePath = options.path ?? '/veh/query';
  const username = options.username ?? 'hub-poller';
  const password = options.password ?? 'Poll-demo-2026!';

  const sorted: VehicleReport[] = [];
  const byLsh = new Set<string>();
  let latestServed = '';
  let requests = 0;

  const addRecords = (records: VehicleReport[]): void => {
    for (const r of records) {
      if (!KSSJ_FORMAT.test(r.ZTSJ)) throw new RangeError(`record ${r.LSH}: ZTSJ ${JSON.stringify(r.ZTSJ)} is not yyyy-MM-dd HH:mm:ss`);
      if (byLsh.has(r.LSH)) throw new RangeError(`record ${r.LSH} is already there; the office never alters a record`);
      if (r.ZTSJ < latestServed) {
        throw new RangeError(`record ${r.LSH}: ZTSJ ${r.ZTSJ} is earlier than ${latestServed}, already served; the office never makes such a change visible`);
      }
    }
    for (const r of records) {
      byLsh.add(r.LSH);
      sorted.splice(upperBound(sorted, r), 0, structuredClone(r));
    }
  };
  addRecords(options.records ?? []);

  const query = (args: QueryArgs, headers: unknown): { ZYS: number; Record?: VehicleReport[] } => {
    requests++;
    const token = usernameToken(headers);
    if (!token || token.username !== username || token.password !== password) {
      throw clientFault('认证失败：用户名或密码错误 (WS-Security UsernameToken)');
    }
    const kssj = String(args?.KSSJ ?? '').trim();
    if (!KSSJ_FORMAT.test(kssj)) throw clientFault(`KSSJ 格式错误，应为 yyyy-MM-dd HH:mm:ss：${kssj}`);
    const ys = Number(args?.YS);
    if (!Number.isInteger(ys) || ys < 1) throw clientFault(`YS 必须是从 1 开始的页码：${String(args?.YS)}`);

    const from = lowerBound(sorted, kssj);
    const total = sorted.length - from;
    const page = sorted.slice(from + (ys - 1) * QUERY_PAGE_SIZE, from + ys * QUERY_PAGE_SIZE);
    for (const r of page) if (r.ZTSJ > latestServed) latestServed = r.ZTSJ;
    const answer: { ZYS: number; Record?: VehicleReport[] } = { ZYS: Math.ceil(total / QUERY_PAGE_SIZE) };
    if (page.length > 0) answer.Record = page.map(inWsdlOrder);
    return answer;
  };

  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9101, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as { port: number };
  const url = `http://${host}:${address.port}${servicePath}`;

  // node-soap picks the port whose address path matches the request, and ?wsdl should show
  // where this instance listens: so the in-memory WSDL carries this instance's address.
  const wsdl = fs
    .readFileSync(wsdlPath(), 'utf8')
    .replace(/(<wsdl:port name="VehicleQueryPort"[^>]*>\s*<soap:address location=")[^"]*"/, `$1${url}"`);
  soap.listen(server, {
    path: servicePath,
    xml: wsdl,
    suppressStack: true,
    services: {
      VehicleQueryService: {
        VehicleQueryPort: {
          // node-soap passes (args, callback, headers): the WS-Security header is checked here so
          // that a refusal is a SOAP 1.1 soap:Client Fault, as the office answers.
          QueryChangedCases: (args: QueryArgs, _cb: unknown, headers: unknown) => query(args, headers),
        },
      },
    },
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
    addRecords,
    records: () => sorted.map((r) => structuredClone(r)),
    get requests() {
      return requests;
    },
  };
}

/** The WSDL as the office handed it over; tsc does not copy it to dist/, so look beside the source too. */
export function wsdlPath(): string {
  const beside = path.join(__dirname, 'vehicle-office.wsdl');
  if (fs.existsSync(beside)) return beside;
  return path.resolve(__dirname, '../../../infra/simulators/vehicle-office.wsdl');
}

function clientFault(faultstring: string): SoapFault {
  return { Fault: { faultcode: 'soap:Client', faultstring, statusCode: 500 } };
}

function usernameToken(headers: unknown): { username: string; password: string } | undefined {
  const token = (headers as { Security?: { UsernameToken?: { Username?: unknown; Password?: unknown } } } | undefined)?.Security?.UsernameToken;
  if (!token) return undefined;
  return { username: textOf(token.Username), password: textOf(token.Password) };
}

// node-soap gives an element with attributes (Password Type="…") as { attributes, $value }.
function textOf(v: unknown): string {
  if (v && typeof v === 'object') return textOf((v as { $value?: unknown }).$value);
  return v === undefined || v === null ? '' : String(v);
}

function compare(a: VehicleReport, ztsj: string, lsh: string): number {
  return a.ZTSJ < ztsj ? -1 : a.ZTSJ > ztsj ? 1 : a.LSH < lsh ? -1 : a.LSH > lsh ? 1 : 0;
}

function upperBound(list: VehicleReport[], r: VehicleReport): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(list[mid], r.ZTSJ, r.LSH) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first record with ZTSJ >= kssj. */
function lowerBound(list: VehicleReport[], kssj: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].ZTSJ < kssj) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// node-soap writes elements in the order of the object's keys; the schema's sequence wants this one.
function inWsdlOrder(r: VehicleReport): VehicleReport {
  const SQR = { XM: r.SQR.XM, SFZMMC: r.SQR.SFZMMC, SFZMHM: r.SQR.SFZMHM, ...(r.SQR.LXDH === undefined ? {} : { LXDH: r.SQR.LXDH }) };
  return {
    LSH: r.LSH, GLBM: r.GLBM, SLBH: r.SLBH, JGM: r.JGM ?? '', YWLX: r.YWLX, ZT: r.ZT, ZTSJ: r.ZTSJ,
    SQR, JBR: r.JBR ?? '', BZ: r.BZ ?? '',
  };
}
