// Fuzz target: a SOAP 1.1 request pushed to the vehicle office's ReportCaseStatus endpoint. The
// input is the HTTP body (its charset from the XML declaration, as a hall's gateway sends it); it
// goes through everything the hub does with a pushed report: the size limit, decoding, the DTD
// refusal, the envelope check and the WS-Security token, node-soap's reading against the WSDL, the
// schema shape, the sender's scope, the mapping, and the answer. A soap:Client Fault or FHDM -1
// is a clean refusal; a soap:Server Fault or FHDM -9 (the hub's own failure, with a store that
// never fails), an answer that is not well-formed SOAP, a value the store would refuse or a
// personal number in the log are failures.

import { SoapTransport, SoapOptions } from '../../../adapters/kit/transports/soap/soap';
import { SOAP11_ENVELOPE_NS } from '../../../adapters/kit/transports/soap/soap-envelope';
import { parseSupervisionCode } from '../../../core/identifiers/supervision-code';
import type { CaseEvent } from '../../../contracts/types';
import { department } from '../departments';
import { LogCapture, StoreDouble, transportContext, request, response } from '../hub-double';
import { checkMapResult } from '../event-checks';
import { holds, InvariantBroken } from '../invariant';
import { readXmlAnswer } from '../xml-answer';

// The poller is not started: only the push endpoint takes department bytes.
const { def, profile } = department('vehicle-office', { transport: { options: { poll: { enabled: false } } } });
const options = def.transport.options as unknown as SoapOptions;
const push = options.push!;
const store = new StoreDouble();
const log = new LogCapture();
const { ctx } = transportContext(def, {
  adapter: profile.adapter, version: profile.version, file: profile.file,
  mapRecord: async (record, c) => { const r = await profile.mapRecord(record, c); checkMapResult(r); return r; },
}, store, log);
const route = new SoapTransport(ctx, options).httpRoutes().find((r) => r.method === 'POST')!;
const codes = push.answer.codes;
const NODE_SOAP_REFUSED = /"msg":"node-soap could not handle the request"/;

export async function fuzz(data: Buffer): Promise<void> {
  store.reset();
  log.lines = [];
  const headers = { 'content-type': 'text/xml', soapaction: `"${push.soapAction}"` };
  const { res, answer } = response();
  await route.handler(request('POST', route.path, headers, data), res);

  holds(store.problems.length === 0, 'the hub handed the store what PostgreSQL refuses', store.problems);
  holds(answer.misuse.length === 0, 'the answer was written twice', answer.misuse);
  holds(answer.status === 200 || answer.status === 500, `answered HTTP ${answer.status}`, answer.body);
  const elements = readXmlAnswer(answer.body, 'the SOAP answer');
  holds(elements[0]?.local === 'Envelope' && elements[0].uri === SOAP11_ENVELOPE_NS, 'the answer is not a SOAP 1.1 envelope', answer.body);
  const text = (local: string) => elements.find((e) => e.local === local)?.text;
  // node-soap failing on a request before the operation is called is answered as the sender's
  // fault, and logged as an error so that a failure of node-soap itself is seen: that one is
  // expected; any other error line is the hub failing.
  const errors = log.errors().filter((l) => !(NODE_SOAP_REFUSED.test(l) && text('faultcode') === 'soap:Client'));
  if (errors.length) throw new InvariantBroken(`answered ${answer.status} after logging an error of its own`, errors);

  if (answer.status === 500) {
    const fault = text('faultcode');
    holds(fault === 'soap:Client' || fault === 'soap:VersionMismatch', `answered a ${fault ?? 'bodyless'} Fault`, answer.body);
    holds(!!text('faultstring'), 'a Fault without a reason', answer.body);
    holds(store.events.length === 0, 'a refused request left an event', store.events.length);
    return;
  }
  const code = text('FHDM');
  holds(code === String(codes.accepted) || code === String(codes.duplicate) || code === String(codes.rejected),
    `answered FHDM ${code}, which is neither accepted, duplicate nor rejected`, answer.body);
  if (code === String(codes.rejected)) {
    holds(!!text('FHXX'), 'a refused report without a reason', answer.body);
    holds(store.events.length === 0, 'a refused report left an event', store.events.length);
  } else {
    holds(parseSupervisionCode(text('JGM') ?? '').ok, 'an accepted report is answered without a valid supervision code', answer.body);
    holds(store.events.length === 1, 'an accepted report did not reach the store as one event', store.events.length);
  }

  for (const e of store.events as CaseEvent[]) {
    const a = e.data.applicant;
    for (const v of [a.idType === 'CITIZEN_ID' ? a.idNumber : null, a.mobile]) if (v) holds(!log.shows(v), 'a personal number reached the log unmasked', { number: v, log: log.lines });
  }
}
