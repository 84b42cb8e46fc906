// Reading XML that a department sent: in the charset it was really written in, and never with a
// DTD. Shared by every transport that takes XML (SOAP, file drops).

import * as iconv from 'iconv-lite';

export type XmlRefusal = { ok: false; rule: 'charset' | 'encoding' | 'doctype'; reason: string };
export type DecodedXml = { ok: true; text: string; charset: string };

/**
 * Deeper nesting than any department message needs. Reading a document nested deeper would only
 * exhaust the stack of what reads it recursively (node-soap's reader; JSON.stringify of a record
 * kept as a dead letter).
 */
export const MAX_ELEMENT_DEPTH = 64;

/** Charsets a transport accepts unless its options say otherwise. */
export const DEFAULT_XML_CHARSETS = ['utf-8', 'gbk', 'gb18030'];

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
// A DTD is the only way to declare entities (billion laughs, external references): no XML the hub
// takes needs one, so any declaration is refused before a parser sees the text.
const DTD_DECLARATION = /<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)\b/i;

/** A charset name as the hub compares them: lower case, no dashes or underscores (`UTF-8` = `utf8`). */
export function charsetKey(name: string): string {
  return name.trim().toLowerCase().replace(/[-_]/g, '');
}

/** The charset parameter of a Content-Type header, if any. */
export function charsetFromContentType(contentType: string | null | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m ? m[1] : undefined;
}

/** The encoding pseudo-attribute of the XML declaration, read from the first bytes as ASCII. */
export function charsetFromDeclaration(bytes: Buffer): string | undefined {
  const head = bytes.subarray(bytes.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0, 256).toString('latin1');
  const m = /^\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(head);
  return m ? m[1] : undefined;
}

/**
 * Decodes XML bytes: the charset of the Content-Type header wins (RFC 7303 §3.2), then the XML
 * declaration's, then UTF-8. A charset outside `accepted`, or bytes that are not valid in the
 * charset, are refused — a wrong guess would garble names silently (GBK read as UTF-8).
 * The XML declaration of the text returned says UTF-8, so that no parser decodes it again.
 */
export function decodeXml(bytes: Buffer, contentType: string | null | undefined, accepted: readonly string[] = DEFAULT_XML_CHARSETS): DecodedXml | XmlRefusal {
  const fromHeader = charsetFromContentType(contentType);
  const fromDeclaration = charsetFromDeclaration(bytes);
  const charset = fromHeader ?? fromDeclaration ?? 'utf-8';
  const key = charsetKey(charset);
  if (!accepted.some((a) => charsetKey(a) === key) || !iconv.encodingExists(charset)) {
    return {
      ok: false, rule: 'charset',
      reason: `不支持的字符编码 ${charset} (charset ${JSON.stringify(charset)} from the ${fromHeader ? 'Content-Type header' : fromDeclaration ? 'XML declaration' : 'default'} is not one of ${accepted.join(', ')})`,
    };
  }
  let text: string;
  if (key === 'utf8') {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return { ok: false, rule: 'encoding', reason: `请求内容不是有效的 UTF-8 编码，GBK 请求须在 Content-Type 或 XML 声明中注明 charset (the bytes are not valid UTF-8)` };
    }
  } else {
    text = iconv.decode(bytes, charset);
    // No byte sequence of these charsets stands for U+FFFD: one in the text marks invalid bytes.
    const bad = text.indexOf('\uFFFD');
    if (bad !== -1) return { ok: false, rule: 'encoding', reason: `请求内容不是有效的 ${charset} 编码 (invalid ${charset} bytes near character ${bad + 1})` };
  }
  text = text.replace(/^\uFEFF/, '');
  return { ok: true, text: declareUtf8(text), charset: key === 'utf8' ? 'utf-8' : charset.toLowerCase() };
}

/** Rewrites the encoding of the XML declaration (if there is one) to UTF-8. */
export function declareUtf8(text: string): string {
  return text.replace(/^(\s*<\?xml\s[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2/, '$1$2UTF-8$2');
}

/** Null when the text holds no DTD declaration; else why it is refused. */
export function findDtd(text: string): XmlRefusal | null {
  const m = DTD_DECLARATION.exec(text);
  if (!m) return null;
  return { ok: false, rule: 'doctype', reason: `XML 不得包含 DTD 或实体声明 (<!${m[1].toUpperCase()} at character ${m.index + 1}; DTDs and entity declarations are refused)` };
}

/** Decodes and checks XML bytes in one step: the text, or the first reason to refuse them. */
export function readXml(bytes: Buffer, contentType: string | null | undefined, accepted?: readonly string[]): DecodedXml | XmlRefusal {
  const decoded = decodeXml(bytes, contentType, accepted);
  if (!decoded.ok) return decoded;
  return findDtd(decoded.text) ?? decoded;
}
