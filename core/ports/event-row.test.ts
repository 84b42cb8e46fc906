import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { CaseEvent } from '../../contracts/types';
import { ADAPTERS_DIR } from '../kernel/paths';
import { compactBody, expandBody, preparedBody, EventColumns } from './event-row';
import { CopyJson, copyBytes } from '../../services/store/sql-driver';

/** Every event the departments' samples map to. */
function sampleEvents(): CaseEvent[] {
  const out: CaseEvent[] = [];
  for (const dept of fs.readdirSync(ADAPTERS_DIR)) {
    const samples = path.join(ADAPTERS_DIR, dept, 'samples');
    if (!fs.existsSync(samples)) continue;
    for (const f of fs.readdirSync(samples).filter((n) => n.endsWith('.expected.json'))) {
      // A sample is one message (its events) or a batch (its records' events).
      const expected = JSON.parse(fs.readFileSync(path.join(samples, f), 'utf8')) as { events?: CaseEvent[]; records?: { events?: CaseEvent[] }[] };
      out.push(...(expected.events ?? []));
      for (const r of expected.records ?? []) out.push(...(r.events ?? []));
    }
  }
  return out;
}

describe('stored event bodies', () => {
  const events = sampleEvents();
  const code = '130100202611247QXLM0E6QK2';

  it('has sample events to check', () => assert.ok(events.length >= 6, `${events.length} sample events`));

  it('expand what compact leaves, giving back the event exactly, whatever its envelope and provenance', () => {
    fc.assert(fc.property(
      fc.constantFrom(...events),
      fc.record({
        rawMessageId: fc.constantFrom('raw-1', 'raw-2'), otherRaw: fc.boolean(), otherAdapter: fc.boolean(), otherTime: fc.boolean(),
        otherType: fc.boolean(), otherVersion: fc.boolean(), otherContentType: fc.boolean(), withSubject: fc.boolean(),
      }),
      (sample, v) => {
        const event: CaseEvent = structuredClone(sample);
        event.data.provenance = { ...event.data.provenance, rawMessageId: v.otherRaw ? 'raw-elsewhere' : v.rawMessageId };
        if (v.otherAdapter) event.source = 'urn:hub:system:elsewhere';
        if (v.otherTime) event.time = '2026-11-24T00:00:00+08:00';
        if (v.otherType) event.type = 'gov.case.status.v2' as CaseEvent['type'];
        if (v.otherVersion) event.specversion = '1.1' as CaseEvent['specversion'];
        if (v.otherContentType) event.datacontenttype = 'text/json' as CaseEvent['datacontenttype'];
        event.subject = code;
        const cols: EventColumns = { id: event.id, adapter: event.data.provenance.adapter, rawMessageId: v.rawMessageId, supervisionCode: code };
        const stored = JSON.parse(JSON.stringify(compactBody(event, cols)));
        assert.deepEqual(expandBody(stored, cols), event);
      }));
  });

  it('prepared before the code is known (a file\'s mapping worker), are the body the store would write itself, as COPY text', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('\\', '\\N', '\t', '\r\n', '"', '经办\\人\t员'));
    fc.assert(fc.property(fc.constantFrom(...events), text, fc.option(text, { nil: null }), fc.boolean(), (sample, name, remark, carried) => {
      const event: CaseEvent = structuredClone(sample);
      delete event.subject;
      event.data.applicant = { ...event.data.applicant, name: name.replace(/\0/g, '') };
      event.data.remark = remark;
      if (carried) event.subject = 'SUBJECT-THE-STORE-REPLACES';
      const prepared = new CopyJson(preparedBody(event));
      const stored = { ...event, subject: code };
      const p = event.data.provenance;
      const own = compactBody(stored, { id: event.id, adapter: p.adapter, rawMessageId: p.rawMessageId, supervisionCode: code });
      assert.deepEqual(prepared.value(), JSON.parse(JSON.stringify(own)));
      // The same COPY line as the store's own encoding of the body.
      assert.equal(copyBytes([['x', prepared, 1]]).toString('utf8'), copyBytes([['x', own, 1]]).toString('utf8'));
    }), { numRuns: 200 });
  });

  it('leave out of a typical event what the row and the envelope give back', () => {
    const e = { ...events[0], subject: code };
    const p = e.data.provenance;
    const body = JSON.stringify(compactBody(e, { id: e.id, adapter: p.adapter, rawMessageId: p.rawMessageId!, supervisionCode: code }));
    for (const gone of ['specversion', 'datacontenttype', 'urn:hub:system', e.id, code]) assert.ok(!body.includes(gone), `${gone} is left out`);
    assert.ok(body.length < JSON.stringify(e).length * 0.8, `${body.length} of ${JSON.stringify(e).length} bytes`);
  });

  it('read a whole body stored before bodies were compacted as it was', () => {
    const e = { ...events[0], subject: code, data: { ...events[0].data, provenance: { ...events[0].data.provenance, rawMessageId: 'raw-9' } } };
    assert.deepEqual(expandBody(JSON.parse(JSON.stringify(e)), { id: e.id, adapter: e.data.provenance.adapter, rawMessageId: 'raw-9', supervisionCode: code }), e);
  });
});
