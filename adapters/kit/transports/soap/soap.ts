import path from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as soap from 'soap';
import { Transport, HttpRoute, TransportContext, SplitMessage, RecoveryPlan } from '../base';
import type { RawMessage } from '../../../../core/ports/inbox';
import type { RecordOutcome } from '../../../../core/ports/intake';
import { ConfigError } from '../../../../core/kernel/errors';
import { flatHeaders } from '../../../../core/kernel/http';
import { readXml, XmlRefusal } from '../xml-safety';
import { readLimitedBody, discardBody } from '../request-body';
import { checkEnvelope, soapFault, refusalFaultCode, EnvelopeCheck } from './soap-envelope';
import { checkShape, DescribedShape } from './soap-shape';
import { AnswerWriter } from './soap-answer';
import { authenticate, scopePrecheck, PushAuthOptions, AuthResult, AUTH_REFUSED } from './soap-auth';
import { readWsdlFile, withAddress, resolveOperation, createSoapServer, ResolvedOperation } from './soap-wsdl';
import { SoapPoller, PollOptions } from './soap-poll';
import optionsSchema from './soap.schema.json';

export interface PushOptions {
  path?: string;
  service: string;
  port: string;
  operation: string;
  requestElement: string;
  responseElement: string;
  soapAction?: string;
  maxBodyBytes: number;
  encodings: string[];
  auth: PushAuthOptions;
  answer: {
    /** Paths of element names in the response element (`FHDM`, `return.code`). */
    codeField: string;
    messageField: string;
    caseCodeField?: string;
    codes: { accepted: number | string; duplicate: number | string; rejected: number | string; retry?: number | string };
    messages: { accepted: string; duplicate: string; retry: string };
  };
}

export interface SoapOptions {
  /** The department's WSDL, relative to the adapter folder. */
  wsdl: string;
  push?: PushOptions;
  poll?: PollOptions & { wsdl?: string };
}

/** What the node-soap service method needs of the HTTP request it answers. */
interface PushContext {
  req: IncomingMessage;
  body: Buffer;
  contentType: string | null;
  /** The service method was called (node-soap read the request). */
  invoked?: boolean;
  messageId?: string;
  /** The sender, authenticated before node-soap read the request. */
  auth?: AuthResult & { ok: true };
}

const CHANNEL_HEADER = 'x-hub-channel';
const SENDER_HEADER = 'x-hub-sender';
const XML_CONTENT_TYPE = 'text/xml; charset=utf-8';

/** node-soap's wording for a thrown SOAP 1.1 Fault; statusCode is the HTTP status, not written in the XML. */
function clientFault(faultstring: string): { Fault: { faultcode: string; faultstring: string; statusCode: number } } {
  return { Fault: { faultcode: 'soap:Client', faultstring, statusCode: 500 } };
}

/**
 * A department that speaks SOAP 1.1, driven entirely by its adapter definition: it pushes one record
 * per request to an operation the hub serves (node-soap's server, answered with the department's own
 * result code, message and case code fields), and/or the hub polls an operation it serves
 * (node-soap's client, see soap-poll.ts). The raw request is stored before anything is answered.
 */
export class SoapTransport extends Transport<SoapOptions> {
  static readonly optionsSchema = optionsSchema;
  private readonly wsdlFile: string;
  private readonly wsdlText: string;
  private readonly pushPath: string | null;
  private readonly context = new AsyncLocalStorage<PushContext>();
  private readonly ready: Promise<void>;
  private server: soap.Server | null = null;
  private parser: soap.WSDL | null = null;
  private pushOperation: ResolvedOperation | null = null;
  private answerWriter: AnswerWriter | null = null;
  /** The push operation's input as node-soap describes it: what a request may contain. */
  private inputShape: DescribedShape = {};
  private poller: SoapPoller | null = null;

  constructor(ctx: TransportContext, options: SoapOptions) {
    super(ctx, options);
    this.wsdlFile = path.resolve(ctx.adapter.dir, options.wsdl);
    this.wsdlText = readWsdlFile(this.wsdlFile, this.adapterId);
    this.pushPath = options.push ? options.push.path ?? `/soap/${this.adapterId}` : null;
    this.ready = this.prepare();
    // Awaited by start() and by every request; this only keeps an early failure from being unhandled.
    this.ready.catch(() => undefined);
  }

  private async prepare(): Promise<void> {
    const where = `${this.adapterId}: adapter.yaml transport.options`;
    this.parser = await new Promise<soap.WSDL>((resolve, reject) => {
      const w = new soap.WSDL(this.wsdlText, this.wsdlFile, {});
      w.onReady((err) => (err ? reject(new ConfigError(`${where}: cannot read WSDL ${this.wsdlFile}: ${err.message}`)) : resolve(w)));
    });
    const push = this.options.push;
    if (!push || !this.pushPath) return;
    this.pushOperation = resolveOperation(this.parser, push, `${where}.push`, push.soapAction);
    const described = (this.parser.describeServices() as any)[push.service][push.port][push.operation];
    this.inputShape = described.input ?? {};
    this.answerWriter = new AnswerWriter(described.output ?? {}, push.answer, `${where}.push.answer`, push.responseElement);
    const xml = withAddress(this.wsdlText, push.service, push.port, `http://localhost${this.pushPath}`);
    if (!xml) throw new ConfigError(`${where}.push: the WSDL has no soap:address for ${push.service}/${push.port}`);
    this.server = await createSoapServer({
      path: this.pushPath, xml,
      services: { [push.service]: { [push.port]: { [push.operation]: (args: unknown, _cb: unknown, headers: unknown) => this.report(args, headers) } } },
    });
  }

  httpRoutes(): HttpRoute[] {
    if (!this.pushPath) return [];
    return [
      { method: 'POST', path: this.pushPath, handler: (req, res) => this.handle(req, res, () => this.handlePost(req, res)) },
      { method: 'GET', path: this.pushPath, handler: (req, res) => this.handle(req, res, () => this.handleGet(req, res)) },
    ];
  }

  async start(): Promise<void> {
    await this.ready;
    await super.start();
    const poll = this.options.poll;
    if (poll?.enabled) {
      // Built here, not in the constructor: a transport built only to read samples has no store.
      this.poller = new SoapPoller({
        adapter: this.adapterId, wsdlFile: poll.wsdl ? path.resolve(this.ctx.adapter.dir, poll.wsdl) : this.wsdlFile,
        options: poll, intake: this.ctx.intake, leases: this.ctx.leases, cursors: this.ctx.cursors, logger: this.ctx.logger, metrics: this.ctx.metrics,
      });
      await this.poller.start();
    }
  }

  async stop(): Promise<void> {
    await this.poller?.stop();
    await super.stop();
  }

  async split(raw: RawMessage): Promise<SplitMessage | null> {
    await this.ready;
    const o = this.options;
    const poll = raw.headers?.[CHANNEL_HEADER] === 'poll';
    const text = readXml(raw.body, raw.contentType, (poll ? o.poll?.encodings : o.push?.encodings) ?? undefined);
    if (!text.ok) return null;
    let body: any;
    try {
      body = this.parser!.xmlToObject(text.text)?.Body;
    } catch {
      return null;
    }
    if (poll && o.poll) {
      const list = body?.[o.poll.responseElement]?.[o.poll.response.recordElement];
      return list === undefined ? null : { records: Array.isArray(list) ? list : [list] };
    }
    const record = o.push ? body?.[o.push.requestElement] : undefined;
    return record === undefined ? null : { records: [record] };
  }

  /**
   * Raw messages a stop left unprocessed. A pushed request is processed (the sender's retry is then
   * a duplicate), still kept to the sender's scope. A polled page is not: its cursor did not move,
   * so its records are read again from the department.
   */
  protected async recoveryPlan(raw: RawMessage): Promise<RecoveryPlan> {
    if (raw.headers?.[CHANNEL_HEADER] === 'poll') {
      return { close: { superseded: 'poll page stored but not applied before a stop; its records are read again from the cursor' } };
    }
    const parts = await this.split(raw);
    const sender = raw.headers?.[SENDER_HEADER];
    return parts && { ...parts, precheck: sender && this.options.push ? scopePrecheck(this.options.push.auth, sender) : undefined };
  }

  private handle(req: IncomingMessage, res: ServerResponse, fn: () => Promise<void>): Promise<void> {
    return this.inFlightRequest(async () => {
      try {
        await this.ready;
        await fn();
      } catch (err) {
        this.ctx.logger.error({ err: (err as Error).message, stack: (err as Error).stack }, 'SOAP request failed');
        this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'failed' });
        this.send(res, 500, soapFault('soap:Server', '服务暂时不可用，请稍后重试 (the hub could not handle the request; nothing was applied, try again later)'));
      }
    });
  }

  private send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'Content-Type': XML_CONTENT_TYPE, ...headers });
    res.end(body);
  }

  /** Refuses a request before it reaches the intake: a SOAP 1.1 soap:Client (or VersionMismatch) Fault, logged and counted. */
  private refuse(req: IncomingMessage, res: ServerResponse, rule: string, reason: string, extra: Record<string, unknown> = {}): void {
    this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
    this.ctx.logger.warn({ rule, reason, remote: req.socket?.remoteAddress, ...extra }, 'SOAP request refused');
    this.send(res, 500, soapFault(refusalFaultCode(rule), reason));
  }

  /** The one answer to a sender that is not authenticated; the log says which check failed. */
  private refuseAuth(req: IncomingMessage, res: ServerResponse, auth: AuthResult & { ok: false }, extra: Record<string, unknown> = {}): void {
    this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
    this.ctx.logger.warn({ rule: auth.rule, user: auth.user, reason: auth.detail, remote: req.socket?.remoteAddress, ...extra }, 'SOAP request refused: authentication');
    this.send(res, 500, soapFault('soap:Client', AUTH_REFUSED));
  }

  /**
   * A body refused before its credentials could be read (charset, DTD, not XML, not an envelope):
   * logged with its real reason, answered with the authentication Fault, so that an unauthenticated
   * sender learns nothing of how the hub reads XML.
   */
  private refuseUnreadable(req: IncomingMessage, res: ServerResponse, refusal: { rule: string; reason: string }, bytes: number): void {
    this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
    this.ctx.logger.warn({ rule: refusal.rule, reason: refusal.reason, authenticated: false, bytes, remote: req.socket?.remoteAddress }, 'SOAP request refused');
    this.send(res, 500, soapFault('soap:Client', AUTH_REFUSED));
  }

  private async handleGet(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const query = new URL(req.url ?? '/', 'http://hub.invalid').search.slice(1).toLowerCase();
    if (!/^(wsdl|singlewsdl)(=|&|$)/.test(query)) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`POST SOAP 1.1 requests here; GET ${this.pushPath}?wsdl for the service description.\n`);
      return;
    }
    const push = this.options.push!;
    this.send(res, 200, withAddress(this.wsdlText, push.service, push.port, `${this.publicBase(req)}${this.pushPath}`)!);
  }

  /** The hub's address as the caller reached it (Host header), so that ?wsdl names a reachable endpoint. */
  private publicBase(req: IncomingMessage): string {
    const host = String(req.headers.host ?? '');
    const valid = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/.test(host);
    const proto = String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() === 'https' ? 'https' : 'http';
    const fallback = `${this.ctx.config.http.host}:${(req.socket?.localPort ?? this.ctx.config.http.port)}`;
    return `${proto}://${valid ? host : fallback}`;
  }

  private async handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = this.options.push!;
    const op = this.pushOperation!;
    // The sender is authenticated before it is told anything about its request: HTTP Basic before
    // a byte of the body is read; a UsernameToken from the envelope, read safely (size, charset, no
    // DTD), before the operation, SOAPAction and schema are checked. Until then every refusal but
    // the size is the one authentication Fault; the real cause is logged.
    let sender: PushContext['auth'];
    if (o.auth.scheme === 'http-basic') {
      const auth = authenticate(o.auth, undefined, req.headers);
      if (!auth.ok) {
        discardBody(req);
        return this.refuseAuth(req, res, auth);
      }
      sender = auth;
    }
    const read = await readLimitedBody(req, o.maxBodyBytes);
    if (!read.ok) {
      discardBody(req);
      return this.refuse(req, res, 'too-large', `请求超过 ${o.maxBodyBytes} 字节的上限 (the body is larger than ${o.maxBodyBytes} bytes)`, { declared: read.declared });
    }
    const body = read.body;
    const contentType = req.headers['content-type'] ? String(req.headers['content-type']) : null;
    const xml = readXml(body, contentType, o.encodings);
    const envelope: EnvelopeCheck | XmlRefusal = xml.ok ? checkEnvelope(xml.text, { uri: op.namespace, local: op.requestElement }) : xml;
    if (!sender) {
      if (!envelope.ok && !('security' in envelope)) return this.refuseUnreadable(req, res, envelope, body.length);
      const auth = authenticate(o.auth, envelope.security ?? undefined, req.headers);
      if (!auth.ok) return this.refuseAuth(req, res, auth, { bytes: body.length, ...(envelope.ok ? {} : { refused: envelope.rule }) });
      sender = auth;
    }
    if (!xml.ok) return this.refuse(req, res, xml.rule, xml.reason, { bytes: body.length });
    if (!envelope.ok) return this.refuse(req, res, envelope.rule, envelope.reason, { bytes: body.length });
    const action = String(req.headers.soapaction ?? '').trim().replace(/^"(.*)"$/, '$1');
    if (action && op.soapAction && action !== op.soapAction) {
      return this.refuse(req, res, 'soap-action', `不支持的 SOAPAction ${action} (this endpoint takes "${op.soapAction}")`);
    }
    const ctx: PushContext = { req, body, contentType, auth: sender };
    const answer = await this.context.run(ctx, () => this.server!.processRequest(xml.text, {
      url: this.pushPath!,
      // The sender's SOAPAction was checked above; node-soap finds the operation by the binding's.
      headers: { 'content-type': XML_CONTENT_TYPE, ...(op.bindingSoapAction ? { soapaction: `"${op.bindingSoapAction}"` } : {}) },
    }));
    if (answer.statusCode >= 400 && !answer.body.includes('<faultcode>')) {
      // node-soap's own failures come as SOAP 1.2 Faults or bare text, which no SOAP 1.1 peer reads.
      const ours = ctx.invoked;
      this.ctx.metrics.inboundMessages.inc({ adapter: this.adapterId, result: ours ? 'failed' : 'rejected' });
      this.ctx.logger.error({ messageId: ctx.messageId ?? null, status: answer.statusCode, answer: answer.body.slice(0, 500) }, 'node-soap could not handle the request');
      return this.send(res, 500, ours
        ? soapFault('soap:Server', '服务暂时不可用，请稍后重试 (the hub could not answer; try again later)')
        : soapFault('soap:Client', `请求无法按 WSDL 读取 (the request does not match the operation's schema)`));
    }
    this.send(res, answer.statusCode, answer.body, ctx.messageId ? { 'X-Hub-Message-Id': ctx.messageId } : {});
  }

  /** The node-soap service method of the push operation: authenticates, stores, applies, answers. */
  private async report(args: unknown, soapHeaders: unknown): Promise<Record<string, unknown>> {
    const ctx = this.context.getStore();
    if (!ctx) throw new Error('push operation called outside a request');
    ctx.invoked = true;
    const o = this.options.push!;
    const { intake, logger, metrics } = this.ctx;
    const auth = ctx.auth ?? authenticate(o.auth, soapHeaders, ctx.req.headers);
    if (!auth.ok) {
      metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
      logger.warn({ rule: auth.rule, user: auth.user, reason: auth.detail, remote: ctx.req.socket?.remoteAddress }, 'SOAP request refused: authentication');
      throw clientFault(auth.reason);
    }
    const shape = checkShape(args, this.inputShape);
    if (!shape.ok) {
      metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'rejected' });
      logger.warn({ rule: 'schema', element: shape.element, reason: shape.reason, sender: auth.sender, remote: ctx.req.socket?.remoteAddress }, 'SOAP request refused');
      throw clientFault(shape.reason);
    }
    let outcome: RecordOutcome;
    try {
      const raw = await intake.receive(this.adapterId, ctx.body, ctx.contentType, {
        ...flatHeaders(ctx.req, ['content-type', 'soapaction', 'user-agent']),
        [CHANNEL_HEADER]: 'push', [SENDER_HEADER]: auth.sender,
      });
      ctx.messageId = raw.id;
      [outcome] = await intake.process(raw, [args], { precheck: scopePrecheck(o.auth, auth.sender) });
    } catch (err) {
      metrics.inboundMessages.inc({ adapter: this.adapterId, result: 'failed' });
      logger.error({ messageId: ctx.messageId ?? null, sender: auth.sender, err: (err as Error).message }, ctx.messageId ? 'report stored but not applied; answered as a temporary failure' : 'cannot store report; answered as a temporary failure');
      if (o.answer.codes.retry === undefined) throw { Fault: { faultcode: 'soap:Server', faultstring: o.answer.messages.retry, statusCode: 500 } };
      return this.answer(o.answer.codes.retry, o.answer.messages.retry, '');
    }
    if (outcome.result === 'rejected') return this.answer(o.answer.codes.rejected, outcome.reason, '');
    const code = outcome.result === 'accepted' ? o.answer.codes.accepted : o.answer.codes.duplicate;
    return this.answer(code, outcome.result === 'accepted' ? o.answer.messages.accepted : o.answer.messages.duplicate, outcome.supervisionCode);
  }

  private answer(code: number | string, message: string, caseCode: string): Record<string, unknown> {
    return this.answerWriter!.write({ code, message, caseCode });
  }
}
