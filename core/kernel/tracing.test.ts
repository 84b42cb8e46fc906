import assert from 'node:assert/strict';
import { tracesEndpoint, tracingOn, inSpan, activeCarrier, activeTraceparent, activeTraceIds, contextFrom } from './tracing';

// Tracing itself (the SDK started, spans sent) is tested on hub processes: test/tracing.test.ts.
// Here: which variables turn it on, and what the hub's code meets while it is off.

describe('tracing configuration', () => {
  it('is on with either OTLP endpoint variable, the traces one first, and off without one or when disabled', () => {
    assert.equal(tracesEndpoint({}), null);
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }), null);
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), 'http://collector:4318');
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://tempo:4318/v1/traces' }), 'http://tempo:4318/v1/traces');
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' }), null);
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }), null);
    assert.equal(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'otlp' }), 'http://collector:4318');
  });
});

describe('tracing off', () => {
  it('runs the code of a span with one that records nothing, carries no context and names no trace', async () => {
    assert.equal(tracingOn(), false, 'nothing started tracing in this process');
    let attributesBuilt = false;
    const out = await inSpan('store.apply', { root: true, attributes: () => { attributesBuilt = true; return {}; } }, async (span) => {
      assert.equal(span.isRecording(), false);
      assert.equal(activeCarrier(), null);
      assert.equal(activeTraceparent(), null);
      assert.equal(activeTraceIds(), null);
      return 42;
    });
    assert.equal(out, 42);
    assert.equal(attributesBuilt, false, 'no attribute is built for a span that records nothing');
    assert.equal(contextFrom({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' }), null, 'a carried context is not taken up');
    await assert.rejects(inSpan('map', {}, async () => { throw new Error('refused'); }), /refused/);
  });
});
