// The department's WSDL as node-soap reads it, and the one check every SOAP operation the
// adapter definition names must pass: it exists, with the request and response elements named.

import fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as soap from 'soap';
import { ConfigError } from '../../../../core/kernel/errors';
import { readXml } from '../xml-safety';
import { checkEnvelope } from './soap-envelope';

export interface OperationRef {
  service: string;
  port: string;
  operation: string;
  requestElement: string;
  responseElement: string;
}

export interface ResolvedOperation extends OperationRef {
  /** Target namespace of the request and response elements. */
  namespace: string;
  soapAction: string | null;
  /** The binding's own SOAPAction, by which node-soap finds the operation (the definition may expect another). */
  bindingSoapAction: string | null;
}

export function readWsdlFile(file: string, adapter: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${adapter}: cannot read WSDL ${file}: ${(err as Error).message}`, { adapter });
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The WSDL text with the soap:address of one service's port set to `location`; null when the
 * WSDL has no such port. The hub serves its own address in ?wsdl, and node-soap's server binds
 * an operation by the path of its port's address.
 */
export function withAddress(wsdl: string, service: string, port: string, location: string): string | null {
  const svc = new RegExp(`(<(?:[\\w.-]+:)?service\\b[^>]*\\bname\\s*=\\s*["']${escape(service)}["'][^>]*>)([\\s\\S]*?)(<\\/(?:[\\w.-]+:)?service\\s*>)`);
  const portAddress = new RegExp(`(<(?:[\\w.-]+:)?port\\b[^>]*\\bname\\s*=\\s*["']${escape(port)}["'][^>]*>[\\s\\S]*?<(?:[\\w.-]+:)?address\\b[^>]*?\\blocation\\s*=\\s*["'])([^"']*)(["'])`);
  let found = false;
  const out = wsdl.replace(svc, (_m, open: string, inner: string, close: string) => {
    const replaced = inner.replace(portAddress, (_p, a: string, _old: string, b: string) => {
      found = true;
      return a + location.replace(/&/g, '&amp;').replace(/"/g, '&quot;') + b;
    });
    return open + replaced + close;
  });
  return found ? out : null;
}

/** Finds the operation in a ready WSDL and checks the element names the adapter definition gives. */
export function resolveOperation(wsdl: soap.WSDL, ref: OperationRef, where: string, soapAction?: string): ResolvedOperation {
  const defs = wsdl.definitions as any;
  const port = defs.services?.[ref.service]?.ports?.[ref.port];
  if (!port) throw new ConfigError(`${where}: the WSDL has no port ${ref.service}/${ref.port}`);
  const method = port.binding?.methods?.[ref.operation];
  if (!method) throw new ConfigError(`${where}: port ${ref.service}/${ref.port} has no operation ${ref.operation}`);
  if (method.input?.$name !== ref.requestElement) throw new ConfigError(`${where}: ${ref.operation} takes ${method.input?.$name}, not ${ref.requestElement}`);
  if (method.output?.$name !== ref.responseElement) throw new ConfigError(`${where}: ${ref.operation} answers ${method.output?.$name}, not ${ref.responseElement}`);
  const bindingSoapAction = typeof method.soapAction === 'string' && method.soapAction ? method.soapAction : null;
  return {
    ...ref,
    namespace: method.input?.targetNamespace ?? defs.$targetNamespace,
    soapAction: soapAction ?? bindingSoapAction,
    bindingSoapAction,
  };
}

/** A node-soap server that is not bound to an HTTP server: the transport reads and answers requests itself. */
export function createSoapServer(options: { path: string; xml: string; services: soap.IServices }): Promise<soap.Server> {
  return new Promise((resolve, reject) => {
    soap.listen(null as any, {
      path: options.path, xml: options.xml, services: options.services, suppressStack: true,
      callback: (err: Error | undefined, server: soap.Server) => (err ? reject(err) : resolve(server)),
    } as soap.IServerOptions);
  });
}

export interface HttpExchange {
  status: number;
  contentType: string | null;
  body: Buffer;
}

/** Thrown for an answer the hub will not read (too large, a DTD, a charset it does not accept). */
export class UnreadableAnswer extends Error {}

/**
 * node-soap's HTTP client, replaced so that the hub keeps the exact bytes of each answer (they are
 * the raw message), caps their size, decodes them in their real charset and refuses DTDs before
 * node-soap parses them. One request at a time per instance: `last` is the latest answer.
 */
export class SoapHttpClient implements soap.IHttpClient {
  last: HttpExchange | null = null;
  signal: AbortSignal | undefined;

  constructor(private readonly opts: { timeoutMs: number; maxBodyBytes: number; encodings: readonly string[] }) {}

  request(rurl: string, data: any, callback: (error: any, res?: any, body?: any) => any, exheaders: soap.IHeaders = {}): any {
    const target = new URL(rurl);
    const client = target.protocol === 'https:' ? https : http;
    const payload = Buffer.from(String(data ?? ''), 'utf8');
    const headers: Record<string, string> = { Accept: 'text/xml', 'Content-Length': String(payload.length) };
    for (const [k, v] of Object.entries(exheaders)) headers[k] = String(v);
    this.last = null;
    let done = false;
    const finish = (err: Error | null, res?: unknown, body?: string) => {
      if (done) return;
      done = true;
      callback(err, res, body);
    };
    const req = client.request(target, { method: 'POST', headers, timeout: this.opts.timeoutMs, signal: this.signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.opts.maxBodyBytes) {
          req.destroy(new UnreadableAnswer(`answer from ${target.origin} larger than ${this.opts.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', (err) => finish(err));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const contentType = (res.headers['content-type'] as string | undefined) ?? null;
        this.last = { status: res.statusCode ?? 0, contentType, body };
        const text = readXml(body, contentType, this.opts.encodings);
        if (!text.ok) return finish(new UnreadableAnswer(`answer from ${target.origin} (HTTP ${res.statusCode}) refused: ${text.reason}`));
        const shape = checkEnvelope(text.text);
        if (!shape.ok && shape.rule === 'too-deep') return finish(new UnreadableAnswer(`answer from ${target.origin} (HTTP ${res.statusCode}) refused: ${shape.reason}`));
        finish(null, { status: res.statusCode, headers: res.headers, data: text.text }, text.text);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} within ${this.opts.timeoutMs} ms`)));
    req.on('error', (err) => finish(err));
    req.end(payload);
    return undefined;
  }
}
