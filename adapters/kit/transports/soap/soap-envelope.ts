// The SOAP 1.1 envelope as the hub checks it before node-soap sees it: node-soap answers anything
// it cannot read with a stack trace or a SOAP 1.2-style Fault, which no SOAP 1.1 peer understands.

import { SaxesParser } from 'saxes';
import { MAX_ELEMENT_DEPTH } from '../xml-safety';

export { MAX_ELEMENT_DEPTH };

export const SOAP11_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_ENVELOPE_NS = 'http://www.w3.org/2003/05/soap-envelope';

export type QName = { uri: string; local: string };

/** A WS-Security UsernameToken as the envelope carries it, shaped as node-soap gives a parsed header. */
export type SecurityHeader = { Security: { UsernameToken: { Username: string; Password: string | { attributes: { Type: string }; $value: string } } } };

export type EnvelopeCheck =
  | { ok: true; bodyElement: QName; header: boolean; security: SecurityHeader | null }
  // Nothing could be read: no credentials either.
  | { ok: false; rule: 'not-xml' | 'too-deep' | 'not-soap'; reason: string }
  // The envelope was read: its credentials can be checked before this refusal is answered.
  | { ok: false; rule: 'soap-version' | 'no-body' | 'operation'; reason: string; security: SecurityHeader | null };

class TooDeep extends Error {}

/**
 * Checks that the text is a well-formed SOAP 1.1 envelope whose Body holds exactly one element,
 * and, when `expected` is given, that this element is the operation's request element. Reads the
 * header's WS-Security UsernameToken on the way (by local names, as node-soap does), so that the
 * sender is authenticated before it is told anything about its request. Credentials are read only
 * from a well-formed envelope: a refusal without `security` had none that could be read.
 */
export function checkEnvelope(text: string, expected?: QName): EnvelopeCheck {
  const parser = new SaxesParser({ xmlns: true, position: true });
  let depth = 0;
  let root: QName | null = null;
  let header = false;
  let inBody = false;
  const bodyChildren: QName[] = [];
  // Local names from the envelope down; the token is at Envelope/Header/Security/UsernameToken/*.
  const open: string[] = [];
  const token: { Username?: string; Password?: string; Type?: string } = {};
  let tokens = 0;
  const inToken = () => open.length >= 4 && open[1] === 'Header' && open[2] === 'Security' && open[3] === 'UsernameToken';
  const onText = (t: string) => {
    if (open.length !== 5 || !inToken()) return;
    const field = open[4];
    if (field === 'Username' || field === 'Password') token[field] = (token[field] ?? '') + t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('doctype', () => { throw new Error('DOCTYPE not allowed'); });
  parser.on('opentag', (tag) => {
    depth++;
    if (depth > MAX_ELEMENT_DEPTH) throw new TooDeep(`elements nested deeper than ${MAX_ELEMENT_DEPTH} levels`);
    const name = { uri: tag.uri, local: tag.local };
    open.push(tag.local);
    if (depth === 4 && open[1] === 'Header' && open[2] === 'Security' && tag.local === 'UsernameToken') tokens++;
    if (depth === 5 && tag.local === 'Password' && inToken()) {
      const type = Object.values(tag.attributes).find((a) => typeof a === 'object' && a.local === 'Type');
      if (type && typeof type === 'object') token.Type = type.value;
    }
    if (depth === 1) root = name;
    else if (depth === 2 && name.uri === root!.uri && name.local === 'Header') header = true;
    else if (depth === 2 && name.uri === root!.uri && name.local === 'Body') inBody = true;
    else if (depth === 3 && inBody) bodyChildren.push(name);
  });
  parser.on('closetag', () => {
    if (depth === 2) inBody = false;
    depth--;
    open.pop();
  });
  try {
    parser.write(text).close();
  } catch (err) {
    if (err instanceof TooDeep) return { ok: false, rule: 'too-deep', reason: `XML 嵌套层次过深 (${err.message})` };
    return { ok: false, rule: 'not-xml', reason: `请求不是格式正确的 XML (not well-formed XML: ${(err as Error).message})` };
  }
  const r = root as QName | null;
  if (!r || r.local !== 'Envelope' || (r.uri !== SOAP11_ENVELOPE_NS && r.uri !== SOAP12_ENVELOPE_NS)) {
    return { ok: false, rule: 'not-soap', reason: `请求不是 SOAP 信封 (the root element is {${r?.uri ?? ''}}${r?.local ?? ''}, not a SOAP 1.1 Envelope)` };
  }
  // Two tokens: whose credentials to check would be a guess, so there are none.
  const security: SecurityHeader | null = tokens !== 1 || (token.Username === undefined && token.Password === undefined) ? null : {
    // Trimmed, as node-soap trims the text it parses.
    Security: { UsernameToken: { Username: (token.Username ?? '').trim(), Password: token.Type ? { attributes: { Type: token.Type }, $value: (token.Password ?? '').trim() } : (token.Password ?? '').trim() } },
  };
  if (r.uri === SOAP12_ENVELOPE_NS) {
    return { ok: false, rule: 'soap-version', security, reason: `仅支持 SOAP 1.1 (a SOAP 1.2 envelope was sent; this endpoint speaks SOAP 1.1, namespace ${SOAP11_ENVELOPE_NS})` };
  }
  if (bodyChildren.length !== 1) {
    return { ok: false, rule: 'no-body', security, reason: `SOAP Body 必须包含一个请求元素 (the Body holds ${bodyChildren.length} elements; exactly one is expected)` };
  }
  const [el] = bodyChildren;
  if (expected && (el.uri !== expected.uri || el.local !== expected.local)) {
    return { ok: false, rule: 'operation', security, reason: `不支持的操作 {${el.uri}}${el.local} (this endpoint takes {${expected.uri}}${expected.local})` };
  }
  return { ok: true, bodyElement: el, header, security };
}

/** A SOAP 1.1 Fault envelope, as node-soap writes one for a thrown `{Fault: {faultcode, faultstring}}`. */
export function soapFault(faultcode: 'soap:Client' | 'soap:Server' | 'soap:VersionMismatch', faultstring: string): string {
  return '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP11_ENVELOPE_NS}"><soap:Body><soap:Fault>` +
    `<faultcode>${faultcode}</faultcode><faultstring>${escapeXml(faultstring)}</faultstring>` +
    '</soap:Fault></soap:Body></soap:Envelope>';
}

/**
 * The Fault code for a refusal: VersionMismatch for an envelope of another SOAP version (SOAP 1.1
 * section 4.4.1: the envelope's namespace is not the one this node speaks), Client otherwise.
 */
export function refusalFaultCode(rule: string): 'soap:Client' | 'soap:VersionMismatch' {
  return rule === 'soap-version' ? 'soap:VersionMismatch' : 'soap:Client';
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
