import assert from 'node:assert/strict';
import { toHalfWidth } from '../core/identifiers/half-width';
import { spawnHub, HubProcess, testDataDir, settled, waitFor } from './support/hub';
import { DEMO_ADAPTERS, samplePersonalData, sendEverySample } from './support/samples';
import { startOtlpReceiver, tracingEnv, OtlpReceiver } from './support/otlp-receiver';

// Acceptance: none of the ID numbers or phone numbers of the departments' samples appears in any log
// line, metric label or span (attributes, events, resources) produced while the samples are processed.

/** The samples' ID numbers, mobiles and phones (their names are not looked for: logs may name an applicant). */
function sampleNumbers(): string[] {
  return samplePersonalData().filter((v) => /^[\d+\-\s()]+[\dXx]$/.test(v) && v.replace(/\D/g, '').length >= 7);
}

/** A text as one would search it: ASCII digits, no spaces or dashes between them. */
const searchable = (s: string) => toHalfWidth(s).replace(/[\s\-\u2010-\u2015\u2212()]/g, '').toUpperCase();

function leaks(where: string, text: string, values: readonly string[]): string[] {
  const flat = searchable(text);
  return values.filter((v) => text.includes(v) || flat.includes(searchable(v))).map((v) => `${where}: ${v}`);
}

describe('personal data in logs, metrics and traces', function () {
  this.timeout(240_000);
  let receiver: OtlpReceiver;
  let hub: HubProcess;
  after(async () => {
    await hub?.stop();
    await receiver?.close();
  });

  it('shows none of the samples\' ID numbers or phone numbers in a log line, a /metrics label or a span, with tracing on and SMS sent to the applicants', async () => {
    const numbers = sampleNumbers();
    assert.ok(numbers.length >= 10, `the samples give ${numbers.length} ID and phone numbers`);
    receiver = await startOtlpReceiver();
    const dataDir = testDataDir('telemetry-masking');
    // The demo with its simulators: the SMS notifier sends to the applicants' mobiles, through the
    // simulated gateway, and the demo subscriber gets every case change.
    hub = await spawnHub({ ...tracingEnv(receiver), HUB_DATA_DIR: dataDir, HUB_LOG_LEVEL: 'debug' }, ['--with-simulators']);
    await sendEverySample(hub.url, dataDir);
    await settled(hub.url, 60_000);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    // The spans of every department's messages arrived (tracing was on while the samples went through).
    await waitFor('a span of each department\'s messages', () => DEMO_ADAPTERS.every((a) => receiver.spans.some((s) => !s.parentSpanId && s.attributes['hub.adapter'] === a)), 30_000);
    await hub.stop();

    const out = hub.output();
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `a log line is one JSON object: ${l}`);
    assert.ok(lines.some((l) => /"trace_id":"[0-9a-f]{32}"/.test(l) && /"msg":"message processed"/.test(l)), 'the log lines of messages carry their trace ids');
    // In embedded mode too, the in-process bus carries a message's trace to its consumers.
    const traced = receiver.spans.filter((s) => /^consume .*case\.event\.applied$/.test(s.name)).map((s) => s.traceId);
    assert.ok(receiver.spans.some((s) => !s.parentSpanId && s.attributes['hub.adapter'] === 'market-regulation' && traced.includes(s.traceId)), 'a market regulation batch\'s trace reaches the bus consumers');

    const labels = metrics.split('\n').filter((l) => !l.startsWith('#') && l.includes('{')).map((l) => l.slice(l.indexOf('{'), l.lastIndexOf('}') + 1)).join('\n');
    const found = [
      ...leaks('log', out, numbers),
      ...leaks('metric label', labels, numbers),
      ...leaks('span', receiver.bodies.join('\n'), numbers),
    ];
    assert.deepEqual(found, [], 'personal numbers of the samples in the hub\'s telemetry');
  });
});
