// The soap scenario's baseline: a bare node-soap server answering the vehicle office's
// ReportCaseStatus from the same WSDL (adapters/vehicle-office/exchange.wsdl) with a constant
// FHDM 1, in a process of its own. With BASELINE_PG=postgres://… it first INSERTs each report into
// that database (one row, one statement, from a pool), as the least a server that stores what it
// answers must do. No authentication, no charset handling, no checks, no mapping.
//
// Started by bench/scenarios/soap.ts (`node dist/bench/baselines/soap-server.js`); prints one line
// of JSON, {"url": "http://127.0.0.1:<port>/soap/vehicle-office"}, once it listens.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import * as soap from 'soap';
import { ROOT } from '../../core/kernel/paths';

export const WSDL_FILE = path.join(ROOT, 'adapters', 'vehicle-office', 'exchange.wsdl');
export const PUSH_PATH = '/soap/vehicle-office';

/** The table the baseline stores into, created in its own fresh database. */
export const REPORTS_TABLE = `CREATE TABLE IF NOT EXISTS reports (
  lsh text PRIMARY KEY, glbm text NOT NULL, slbh text NOT NULL, zt text NOT NULL, ztsj text NOT NULL,
  body jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`;

type Report = { LSH: string; GLBM: string; SLBH: string; ZT: string; ZTSJ: string };

async function main(): Promise<void> {
  const pool = process.env.BASELINE_PG ? new pg.Pool({ connectionString: process.env.BASELINE_PG, max: 10 }) : null;
  if (pool) await pool.query(REPORTS_TABLE);
  const answer = { FHDM: 1, FHXX: '接收成功', JGM: '' };
  const report = pool
    ? async (args: Report) => {
      await pool.query('INSERT INTO reports (lsh, glbm, slbh, zt, ztsj, body) VALUES ($1, $2, $3, $4, $5, $6)',
        [args.LSH, args.GLBM, args.SLBH, args.ZT, args.ZTSJ, JSON.stringify(args)]);
      return answer;
    }
    : (_args: Report) => answer;
  const services = { VehicleExchangeService: { VehicleExchangePort: { ReportCaseStatus: report } } };
  const server = http.createServer();
  soap.listen(server, PUSH_PATH, services, fs.readFileSync(WSDL_FILE, 'utf8'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}${PUSH_PATH}` })}\n`);
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void (pool?.end() ?? Promise.resolve()).finally(() => process.exit(0));
  });
}

if (require.main === module) {
  main().catch((err) => { process.stderr.write(`soap baseline server: ${(err as Error).stack}\n`); process.exit(1); });
}
