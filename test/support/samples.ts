// The demo departments' samples (adapters/<id>/samples/, as the departments handed them over), and
// the way a test sends every one of them through its department's own transport.
import fs from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { ADAPTERS_DIR, ROOT } from '../../core/kernel/paths';
import { postBatch } from '../../infra/simulators/market-regulation';
import { REPORT_SOAP_ACTION } from '../../infra/simulators/vehicle-office';
import { dropBatch } from '../../infra/simulators/tax-bureau';
import { httpPost } from '../../infra/simulators/http-post';
import { waitFor } from './hub';

export const DEMO_ADAPTERS = ['market-regulation', 'vehicle-office', 'tax-bureau'] as const;

export const samplesOf = (adapter: string): string[] => fs.readdirSync(path.join(ADAPTERS_DIR, adapter, 'samples')).map((f) => path.join(ADAPTERS_DIR, adapter, 'samples', f));

/** The three demo departments as a hub configuration lists them (the tax bureau's drop folder looked at every 100 ms). */
export function demoAdapterEntries(): Record<string, unknown>[] {
  return [
    { id: 'market-regulation', dir: path.join(ROOT, 'adapters/market-regulation') },
    { id: 'vehicle-office', dir: path.join(ROOT, 'adapters/vehicle-office') },
    { id: 'tax-bureau', dir: path.join(ROOT, 'adapters/tax-bureau'), overrides: { transport: { options: { pollIntervalMs: 100 } } } },
  ];
}

/** The personal values of every sample: its expected events' applicants and officers, and any ID-number- or mobile-like token of the raw files (refused ones included). */
export function samplePersonalData(): string[] {
  const values = new Set<string>();
  for (const adapter of DEMO_ADAPTERS) {
    for (const file of samplesOf(adapter)) {
      if (file.endsWith('.expected.json')) {
        const e = JSON.parse(fs.readFileSync(file, 'utf8')) as { events?: any[]; records?: { events?: any[] }[] };
        for (const ev of [...(e.events ?? []), ...(e.records ?? []).flatMap((r) => r.events ?? [])]) {
          const a = ev.data.applicant;
          for (const v of [a.name, a.idNumber, a.mobile, a.phone, ev.data.officer]) if (typeof v === 'string' && v.length >= 2) values.add(v);
        }
      } else if (/\.(xml|json)$/.test(file)) {
        const raw = fs.readFileSync(file);
        const text = /encoding="(GBK|GB18030)"/i.test(raw.subarray(0, 200).toString('latin1')) ? iconv.decode(raw, 'gbk') : raw.toString('utf8');
        for (const m of text.matchAll(/(?<![\dA-Z])(\d{17}[\dXx]|\d{15}|1[3-9]\d{9}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})(?![\dA-Z])/g)) values.add(m[1]);
      }
    }
  }
  return [...values];
}

/**
 * Sends every sample through its own transport to a hub configured with demoAdapterEntries():
 * market regulation's batches signed to its webhook, the vehicle office's reports to its SOAP
 * endpoint, the tax bureau's files dropped into its folder under `dataDir` (until its receipt).
 */
export async function sendEverySample(hubUrl: string, dataDir: string): Promise<void> {
  for (const f of samplesOf('market-regulation').filter((f) => f.endsWith('.json') && !f.endsWith('.expected.json'))) {
    await postBatch(`${hubUrl}/api/v1/inbound/market-regulation`, fs.readFileSync(f));
  }
  for (const f of samplesOf('vehicle-office').filter((f) => f.endsWith('.xml'))) {
    await httpPost(`${hubUrl}/soap/vehicle-office`, fs.readFileSync(f), { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: REPORT_SOAP_ACTION });
  }
  const inbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
  fs.mkdirSync(inbox, { recursive: true });
  for (const f of samplesOf('tax-bureau').filter((f) => f.endsWith('.xml'))) await dropBatch(inbox, fs.readFileSync(f), { name: path.basename(f) });
  const receipts = path.join(dataDir, 'drop', 'tax-bureau', 'receipts');
  await waitFor('the tax bureau\'s receipt', () => fs.existsSync(receipts) && fs.readdirSync(receipts).some((f) => f.endsWith('.ok')), 30_000);
}
