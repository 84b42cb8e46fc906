import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import * as iconv from 'iconv-lite';
import { decodeXml, readXml, findDtd, charsetFromDeclaration, declareUtf8 } from './xml-safety';

const SAMPLES = path.resolve(__dirname, '../../../../adapters/vehicle-office/samples');
const gbkSample = () => fs.readFileSync(path.join(SAMPLES, '03-submitted-gbk.xml'));

describe('xml-safety: reading XML bytes a department sent', () => {
  it('decodes GBK named in the Content-Type header, or only in the XML declaration, and says UTF-8 afterwards', () => {
    for (const contentType of ['text/xml; charset=GBK', 'text/xml', null]) {
      const r = decodeXml(gbkSample(), contentType);
      assert.ok(r.ok, JSON.stringify(r));
      assert.match(r.text, /<veh:XM>阿依古丽·买买提<\/veh:XM>/);
      assert.match(r.text, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
      assert.equal(r.charset, 'gbk');
    }
  });

  it('lets the header win over the declaration (RFC 7303)', () => {
    const bytes = iconv.encode('<?xml version="1.0" encoding="UTF-8"?><a>车管二所</a>', 'gbk');
    const r = decodeXml(bytes, 'text/xml; charset="gbk"');
    assert.ok(r.ok);
    assert.equal(r.text, '<?xml version="1.0" encoding="UTF-8"?><a>车管二所</a>');
  });

  it('refuses GBK bytes sent as UTF-8 instead of garbling the names', () => {
    const r = decodeXml(iconv.encode('<a>阿依古丽</a>', 'gbk'), 'text/xml; charset=utf-8');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.rule, 'encoding');
  });

  it('refuses a charset outside the accepted list, and one nobody knows', () => {
    const latin = decodeXml(Buffer.from('<a/>'), 'text/xml; charset=ISO-8859-1', ['utf-8', 'gbk']);
    assert.equal(!latin.ok && latin.rule, 'charset');
    assert.match(!latin.ok ? latin.reason : '', /ISO-8859-1/);
    const unknown = decodeXml(Buffer.from('<a/>'), 'text/xml; charset=x-klingon', ['x-klingon']);
    assert.equal(!unknown.ok && unknown.rule, 'charset');
  });

  it('reads UTF-8 with a byte order mark, and treats utf8 and UTF-8 alike', () => {
    const r = decodeXml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<?xml version="1.0" encoding="utf8"?><a>王</a>')]), null, ['UTF-8']);
    assert.ok(r.ok);
    assert.equal(r.text, '<?xml version="1.0" encoding="UTF-8"?><a>王</a>');
    assert.equal(charsetFromDeclaration(Buffer.from("<?xml version='1.0' encoding='GB18030'?>")), 'GB18030');
    assert.equal(declareUtf8('<a/>'), '<a/>');
  });

  it('refuses any DTD: billion laughs, external entities, a bare DOCTYPE', () => {
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>';
    const external = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>';
    for (const text of [laughs, external, '<!doctype html><html/>', '<a><!ENTITY x "y"></a>']) {
      const r = findDtd(text);
      assert.ok(r, text);
      assert.equal(r.rule, 'doctype');
      const full = readXml(Buffer.from(text), 'text/xml');
      assert.equal(full.ok, false);
    }
    assert.equal(findDtd('<a>no declaration here: DOCTYPE as a word is fine</a>'), null);
  });
});
