import { strict as assert } from 'node:assert';
import { checkEnvelope, soapFault, SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS } from './soap-envelope';
import { withAddress } from './soap-wsdl';

const NS = 'urn:gov:sjz:veh:exchange:v1';
const REQUEST = { uri: NS, local: 'ReportCaseStatusRequest' };
const envelope = (body: string, ns = SOAP11_ENVELOPE_NS) =>
  `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${ns}" xmlns:veh="${NS}"><s:Header/><s:Body>${body}</s:Body></s:Envelope>`;

describe('soap-envelope: what the hub checks before node-soap reads a request', () => {
  it('takes a SOAP 1.1 envelope whose Body holds the request element, whatever the prefixes', () => {
    const r = checkEnvelope(envelope('<veh:ReportCaseStatusRequest><veh:LSH>1</veh:LSH></veh:ReportCaseStatusRequest>'), REQUEST);
    assert.deepEqual(r, { ok: true, bodyElement: REQUEST, header: true, security: null });
    const other = checkEnvelope(`<soapenv:Envelope xmlns:soapenv="${SOAP11_ENVELOPE_NS}"><soapenv:Body><x:ReportCaseStatusRequest xmlns:x="${NS}"/></soapenv:Body></soapenv:Envelope>`, REQUEST);
    assert.equal(other.ok, true);
  });

  it('names why anything else is refused', () => {
    const rule = (text: string) => { const r = checkEnvelope(text, REQUEST); return r.ok ? 'ok' : r.rule; };
    assert.equal(rule('this is not xml'), 'not-xml');
    assert.equal(rule('<a><b></a>'), 'not-xml');
    assert.equal(rule('<veh:x xmlns:q="urn:q"/>'), 'not-xml');
    assert.equal(rule('{"LSH": "1"}'), 'not-xml');
    assert.equal(rule(`<ReportCaseStatusRequest xmlns="${NS}"/>`), 'not-soap');
    assert.equal(rule(`<Envelope xmlns="urn:not-soap"><Body/></Envelope>`), 'not-soap');
    assert.equal(rule(envelope('<veh:ReportCaseStatusRequest/>', SOAP12_ENVELOPE_NS)), 'soap-version');
    assert.equal(rule(envelope('')), 'no-body');
    assert.equal(rule(envelope('<veh:ReportCaseStatusRequest/><veh:ReportCaseStatusRequest/>')), 'no-body');
    assert.equal(rule(envelope('<veh:QueryChangedCasesRequest/>')), 'operation');
    assert.equal(rule(envelope('<ReportCaseStatusRequest/>')), 'operation');
    assert.equal(rule(envelope(`<veh:ReportCaseStatusRequest>${'<x>'.repeat(100)}${'</x>'.repeat(100)}</veh:ReportCaseStatusRequest>`)), 'too-deep');
  });

  it('reads the WS-Security UsernameToken as node-soap would give it, also when the Body is then refused', () => {
    const wsse = (token: string) => `<s:Envelope xmlns:s="${SOAP11_ENVELOPE_NS}" xmlns:veh="${NS}" xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` +
      `<s:Header><w:Security s:mustUnderstand="1">${token}</w:Security></s:Header><s:Body><veh:QueryChangedCasesRequest/></s:Body></s:Envelope>`;
    const TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';
    const refused = checkEnvelope(wsse(`<w:UsernameToken><w:Username> veh-hall-1 </w:Username><w:Password Type="${TEXT}"><![CDATA[Veh1-demo-2026!]]></w:Password></w:UsernameToken>`), REQUEST);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.rule, 'operation');
    assert.deepEqual('security' in refused && refused.security, { Security: { UsernameToken: { Username: 'veh-hall-1', Password: { attributes: { Type: TEXT }, $value: 'Veh1-demo-2026!' } } } });
    const plain = checkEnvelope(wsse('<w:UsernameToken><w:Username>u</w:Username><w:Password>p</w:Password></w:UsernameToken>'));
    assert.deepEqual(plain.ok && plain.security, { Security: { UsernameToken: { Username: 'u', Password: 'p' } } });
    // Two tokens: whose credentials would be checked is ambiguous, so none are read.
    const two = checkEnvelope(wsse('<w:UsernameToken><w:Username>u</w:Username></w:UsernameToken><w:UsernameToken><w:Username>v</w:Username></w:UsernameToken>'));
    assert.equal(two.ok && two.security, null);
    const malformed = checkEnvelope(wsse('<w:UsernameToken><w:Username>u</w:Username>'));
    assert.equal(!malformed.ok && malformed.rule, 'not-xml');
    assert.equal('security' in malformed, false, 'nothing is read from a body that is not XML');
    // A SOAP 1.2 envelope is read too: its sender is authenticated before it is told the version is wrong.
    const v12 = checkEnvelope(wsse('<w:UsernameToken><w:Username>u</w:Username><w:Password>p</w:Password></w:UsernameToken>').replace(SOAP11_ENVELOPE_NS, SOAP12_ENVELOPE_NS), REQUEST);
    assert.equal(!v12.ok && v12.rule, 'soap-version');
    assert.deepEqual('security' in v12 && v12.security, { Security: { UsernameToken: { Username: 'u', Password: 'p' } } });
    for (const text of ['<s:Envelope', `<ReportCaseStatusRequest xmlns="${NS}"/>`]) assert.equal('security' in checkEnvelope(text, REQUEST), false, text);
  });

  it('writes a SOAP 1.1 Fault with the text escaped', () => {
    const xml = soapFault('soap:Client', '认证失败 <&> "x"');
    assert.match(xml, /<soap:Fault><faultcode>soap:Client<\/faultcode><faultstring>认证失败 &lt;&amp;&gt; &quot;x&quot;<\/faultstring><\/soap:Fault>/);
    assert.equal(checkEnvelope(xml).ok, true);
  });

  it('sets the soap:address of one port of one service in a WSDL', () => {
    const wsdl = '<wsdl:definitions xmlns:wsdl="w" xmlns:soap="s">' +
      '<wsdl:service name="A"><wsdl:port name="P" binding="b"><soap:address location="http://localhost:8080/a"/></wsdl:port></wsdl:service>' +
      '<wsdl:service name="B"><wsdl:port name="P" binding="b"><soap:address location="http://localhost:9101/b"/></wsdl:port></wsdl:service></wsdl:definitions>';
    const out = withAddress(wsdl, 'A', 'P', 'http://hub.example:80/soap/x?a=1&b=2');
    assert.ok(out);
    assert.match(out, /name="A"><wsdl:port name="P" binding="b"><soap:address location="http:\/\/hub\.example:80\/soap\/x\?a=1&amp;b=2"\/>/);
    assert.match(out, /location="http:\/\/localhost:9101\/b"/);
    assert.equal(withAddress(wsdl, 'A', 'Q', 'x'), null);
    assert.equal(withAddress(wsdl, 'C', 'P', 'x'), null);
  });
});
