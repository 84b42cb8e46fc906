// Fuzz target: the body of market regulation's signed JSON webhook, past authentication. The
// input is the body; it is signed with the department's key as the department signs it, so every
// input reaches what comes after the signature check: JSON parsing, the batch checks, the mapping
// of each event, the outcomes and the answer. Refusals (400 with a problem) are the hub's clean
// answers; a 503 (the hub's own failure, with a store that never fails), a wrong answer, a value
// the store would refuse or a personal number in the log are failures.

import { createHmac } from 'node:crypto';
import { RestTransport, RestOptions } from '../../../adapters/kit/transports/rest/rest';
import { parseSupervisionCode } from '../../../core/identifiers/supervision-code';
import type { CaseEvent } from '../../../contracts/types';
import { department } from '../departments';
import { LogCapture, StoreDouble, transportContext, request, response } from '../hub-double';
import { checkEvent } from '../event-checks';
import { holds, InvariantBroken } from '../invariant';

const { def, profile } = department('market-regulation');
const options = def.transport.options as unknown as RestOptions;
const store = new StoreDouble();
const log = new LogCapture();
const { ctx } = transportContext(def, { adapter: profile.adapter, version: profile.version, file: profile.file, mapRecord: checkedMapping }, store, log);
const route = new RestTransport(ctx, options).httpRoutes()[0];
const [keyId, secret] = Object.entries(options.signature.keys)[0];

function checkedMapping(record: unknown, c: Parameters<typeof profile.mapRecord>[1]) {
  const checkOk = (r: Awaited<ReturnType<typeof profile.mapRecord>>) => { if (r.ok) checkEvent(r.event); return r; };
  const r = profile.mapRecord(record, c);
  return r instanceof Promise ? r.then(checkOk) : checkOk(r);
}

const PROBLEM_TYPES = new Set(['too-deep', 'not-json', 'not-a-batch', 'batch-size']);

export async function fuzz(data: Buffer): Promise<void> {
  store.reset();
  log.lines = [];
  const ts = String(Math.floor(Date.now() / 1000));
  const s = options.signature;
  const headers = {
    'content-type': 'application/json',
    [s.keyIdHeader]: keyId,
    [s.timestampHeader]: ts,
    [s.signatureHeader]: s.prefix + createHmac(s.algorithm, secret).update(`${ts}.`).update(data).digest('hex'),
  };
  const { res, answer } = response();
  await route.handler(request('POST', route.path, headers, data), res);

  holds(store.problems.length === 0, 'the hub handed the store what PostgreSQL refuses', store.problems);
  const errors = log.errors();
  if (errors.length) throw new InvariantBroken(`answered ${answer.status} after logging an error of its own`, errors);
  holds(answer.misuse.length === 0, 'the answer was written twice', answer.misuse);
  holds(answer.status !== 0, 'the request was left without an answer');
  let body: any;
  try {
    body = JSON.parse(answer.body);
  } catch {
    throw new InvariantBroken(`answered ${answer.status} with a body that is not JSON`, answer.body);
  }
  if (answer.status === 400) {
    holds(PROBLEM_TYPES.has(String(body?.type).replace(/^urn:hub:problem:/, '')) && body.status === 400 && typeof body.detail === 'string',
      'a refusal is not one of the webhook\'s problems', body);
    holds(store.events.length === 0 && store.deadLetters.length === 0, 'a refused batch left events or dead letters', body);
    return;
  }
  holds(answer.status === 200, `a signed body was answered ${answer.status}`, body);

  // Every event is answered, in order, and the answers agree with what reached the store.
  const records: unknown[] = JSON.parse(data.toString('utf8'))[options.batch.recordsPath];
  const results: any[] = body?.results;
  holds(Array.isArray(results) && results.length === records.length, 'the answer does not have one result per event', { results: results?.length, events: records.length });
  let stored = 0;
  let refused = 0;
  results.forEach((r, i) => {
    const rec = records[i] as Record<string, unknown> | null;
    const id = rec && typeof rec === 'object' && !Array.isArray(rec) ? rec[options.batch.idPath] ?? null : null;
    holds(JSON.stringify(r[options.batch.idPath]) === JSON.stringify(id), `result ${i} does not echo its event's id`, { result: r, id });
    if (r.result === 'rejected') {
      refused++;
      holds(typeof r.field === 'string' && r.field !== '' && typeof r.reason === 'string' && r.reason !== '', `result ${i} refuses without a field and a reason`, r);
    } else {
      stored++;
      holds(r.result === 'accepted' || r.result === 'duplicate', `result ${i} is neither accepted, duplicate nor rejected`, r);
      const code = parseSupervisionCode(String(r.supervisionCode));
      holds(code.ok, `result ${i} carries no valid supervision code`, r);
    }
  });
  holds(stored === store.events.length && refused === store.deadLetters.length, 'the answer does not agree with what was stored', { stored, refused, events: store.events.length, deadLetters: store.deadLetters.length });

  // The log is masked: no applicant's ID number or mobile of this batch appears in it.
  for (const e of store.events as CaseEvent[]) {
    const a = e.data.applicant;
    const personal = [a.idType === 'CITIZEN_ID' ? a.idNumber : null, a.mobile].filter((v): v is string => !!v);
    for (const v of personal) holds(!log.shows(v), 'a personal number reached the log unmasked', { number: v, log: log.lines });
  }
}
