// Reading back the XML the hub writes (SOAP answers, receipts): it must be well-formed, whatever
// the department sent, or the department cannot read why it was refused.

import { SaxesParser } from 'saxes';
import { InvariantBroken } from './invariant';

export interface XmlElement {
  uri: string;
  local: string;
  attributes: Record<string, string>;
  text: string;
  depth: number;
}

/** Every element of a document in document order; throws InvariantBroken when it is not well-formed. */
export function readXmlAnswer(xml: string, what: string): XmlElement[] {
  const parser = new SaxesParser({ xmlns: true });
  const out: XmlElement[] = [];
  const open: XmlElement[] = [];
  parser.on('opentag', (tag) => {
    const attributes: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (typeof a === 'object') attributes[a.local] = a.value;
    const e = { uri: tag.uri, local: tag.local, attributes, text: '', depth: open.length };
    out.push(e);
    open.push(e);
  });
  parser.on('text', (t) => { if (open.length) open[open.length - 1].text += t; });
  parser.on('cdata', (t) => { if (open.length) open[open.length - 1].text += t; });
  parser.on('closetag', () => { open.pop(); });
  try {
    parser.write(xml).close();
  } catch (err) {
    throw new InvariantBroken(`${what} is not well-formed XML (${(err as Error).message})`, xml);
  }
  return out;
}
