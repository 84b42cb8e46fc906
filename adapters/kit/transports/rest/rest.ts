import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transport, HttpRoute } from '../base';
import type { RawMessage } from '../../../../core/ports/inbox';
import type { RecordOutcome } from '../../../../core/ports/intake';
import { sendProblem, sendJson, flatHeaders } from '../../../../core/kernel/http';
import { readLimitedBody, discardBody } from '../request-body';
import { jsonDepth, MAX_JSON_DEPTH } from '../json-safety';
import { BAD_SIGNATURE, WebhookRefusal, WebhookSigner, checkSignatureHeaders, readSignatureHeaders, signatureMatches } from '../../../../core/kernel/webhook-signature';
import optionsSchema from './rest.schema.json';

export interface RestOptions {
  path?: string;
  maxBodyBytes: number;
  signature: { algorithm: 'sha256'; keyIdHeader: string; timestampHeader: string; signatureHeader: string; prefix: string; maxSkewSeconds: number; keys: Record<string, string> };
  batch: { recordsPath: string; idPath: string; minRecords: number; maxRecords: number };
}

/**
 * A signed JSON webhook: the department posts batches of events; the hub verifies the HMAC over
 * `timestamp.body`, stores the body, and answers each event (accepted, duplicate or rejected) in
 * request order.
 */
export class RestTransport extends Transport<RestOptions> {
  static readonly optionsSchema = optionsSchema;

  httpRoutes(): HttpRoute[] {
    return [{ method: 'POST', path: this.options.path ?? `/api/v1/inbound/${this.adapterId}`, handler: (req, res) => this.handle(req, res) }];
  }

  split(raw: RawMessage): { records: unknown[] } | null {
    // A body stored before the depth was checked: unreadable, as it would be refused now.
    if (jsonDepth(raw.body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) return null;
    try {
      const body = JSON.parse(raw.body.toString('utf8'));
      const records = body?.[this.options.batch.recordsPath];
      return Array.isArray(records) ? { records } : null;
    } catch {
      return null;
    }
  }

  private refuse(res: ServerResponse, status: number, type: string, title: string, detail: string, headers: Record<string, string> = {}): void {
    this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: status >= 500 ? 'failed' : 'rejected' });
    this.ctx.logger.warn({ status, problem: type, detail }, 'request refused');
    sendProblem(res, status, type, title, detail, { adapter: this.adapterId }, headers);
  }

  private handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return this.inFlightRequest(async () => {
      try {
        await this.handleRequest(req, res);
      } catch (err) {
        this.ctx.logger.error({ err: (err as Error).message }, 'request failed');
        this.refuse(res, 503, 'unavailable', 'The hub cannot take this request in right now', 'try again later', { 'Retry-After': '5' });
      }
    });
  }

  private async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = this.options;
    // Who signed it, and when, before a byte of the body is read; the HMAC over the raw bytes
    // before they are parsed.
    const signer = this.signer(req);
    if (!signer.ok) {
      discardBody(req);
      return this.refuse(res, 401, signer.type, 'Request not authenticated', signer.detail);
    }
    const read = await readLimitedBody(req, o.maxBodyBytes);
    if (!read.ok) {
      discardBody(req);
      return this.refuse(res, 413, 'body-too-large', 'Request body too large', `the body is larger than ${o.maxBodyBytes} bytes`);
    }
    const body = read.body;
    if (!this.signatureMatches(signer, body)) return this.refuse(res, 401, BAD_SIGNATURE.type, 'Request not authenticated', BAD_SIGNATURE.detail);

    if (jsonDepth(body, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      return this.refuse(res, 400, 'too-deep', 'Body nested too deep', `arrays and objects nest deeper than ${MAX_JSON_DEPTH} levels`);
    }
    let parsed: any;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return this.refuse(res, 400, 'not-json', 'Body is not JSON', (err as Error).message);
    }
    const records = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed[o.batch.recordsPath] : undefined;
    if (!Array.isArray(records)) return this.refuse(res, 400, 'not-a-batch', 'Body is not a batch', `expected an object with an array "${o.batch.recordsPath}"`);
    if (records.length < o.batch.minRecords || records.length > o.batch.maxRecords) {
      return this.refuse(res, 400, 'batch-size', 'Batch size out of range', `a batch holds ${o.batch.minRecords} to ${o.batch.maxRecords} events, this one ${records.length}`);
    }

    let raw: RawMessage;
    try {
      raw = await this.ctx.intake.receive(this.adapterId, body, String(req.headers['content-type'] ?? ''), flatHeaders(req, [o.signature.keyIdHeader, o.signature.timestampHeader, 'content-type', 'user-agent'].map((h) => h.toLowerCase())));
    } catch (err) {
      this.ctx.logger.error({ err: (err as Error).message }, 'cannot store raw message');
      return this.refuse(res, 503, 'unavailable', 'The hub cannot store this request right now', 'nothing was applied; try again later', { 'Retry-After': '5' });
    }
    const outcomes = await this.ctx.intake.process(raw, records);
    sendJson(res, 200, { results: outcomes.map((out) => this.answer(records[out.index], out)) }, { 'X-Hub-Message-Id': raw.id });
  }

  private answer(record: any, out: RecordOutcome): Record<string, unknown> {
    const id = record && typeof record === 'object' ? record[this.options.batch.idPath] ?? null : null;
    const key = this.options.batch.idPath;
    if (out.result === 'rejected') return { [key]: id, result: 'rejected', field: out.field, reason: out.reason };
    return { [key]: id, result: out.result, supervisionCode: out.supervisionCode };
  }

  /**
   * The signature headers: a known key id and a timestamp within the window (checked before the
   * body is read), by the hub's one webhook verifier, which also serves its subscribers.
   */
  private signer(req: IncomingMessage): WebhookSigner | WebhookRefusal {
    const s = this.options.signature;
    const names = { keyId: s.keyIdHeader, timestamp: s.timestampHeader, signature: s.signatureHeader };
    // Own properties only: a key id such as "constructor" names no secret.
    const keyOf = (keyId: string) => (Object.prototype.hasOwnProperty.call(s.keys, keyId) ? s.keys[keyId] : undefined);
    return checkSignatureHeaders(readSignatureHeaders(req.headers, names), keyOf, { maxSkewSeconds: s.maxSkewSeconds, headerNames: names });
  }

  /** The HMAC over `timestamp.` and the raw body bytes, compared in constant time. */
  private signatureMatches(signer: WebhookSigner, body: Buffer): boolean {
    const s = this.options.signature;
    return signatureMatches(signer, body, { algorithm: s.algorithm, prefix: s.prefix });
  }
}
