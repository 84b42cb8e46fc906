import client from 'prom-client';
import { METRICS } from './constants';

/**
 * The metrics of the public interface, on a registry of the hub's own (so that several hubs in one
 * process, as in tests, never share counters). Labels never carry personal data.
 */
export class HubMetrics {
  readonly registry = new client.Registry();
  readonly inboundMessages = new client.Counter({
    name: METRICS.inboundMessages, help: 'Events, reports or records departments sent, by result', labelNames: ['adapter', 'result'], registers: [this.registry],
  });
  readonly events = new client.Counter({
    name: METRICS.events, help: 'Canonical events applied to the case store', labelNames: ['department', 'status'], registers: [this.registry],
  });
  readonly stageDuration = new client.Histogram({
    name: METRICS.stageDuration, help: 'Time spent in each pipeline stage', labelNames: ['stage'], registers: [this.registry],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  readonly endToEnd = new client.Histogram({
    name: METRICS.endToEnd, help: 'Receipt of a message to its events visible in the case store', labelNames: ['adapter'], registers: [this.registry],
    // Up to 20 minutes: a month-end file's last chunk is visible minutes after the file came.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200],
  });
  readonly deadLetters = new client.Gauge({
    name: METRICS.deadLetters, help: 'Dead letters waiting for a fix and a replay', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly cases = new client.Gauge({
    name: METRICS.cases, help: 'Cases by department and light', labelNames: ['department', 'light'], registers: [this.registry],
  });
  readonly outbound = new client.Counter({
    name: METRICS.outbound, help: 'Outbound delivery attempts by target (sms, or a subscription id) and result (sent, throttled, error, rejected, expired)', labelNames: ['target', 'result'], registers: [this.registry],
  });
  readonly files = new client.Counter({
    name: METRICS.files, help: 'Files taken from drop folders, by result (processed, failed, duplicate; orphaned-marker: a marker whose file never came)', labelNames: ['adapter', 'result'], registers: [this.registry],
  });
  readonly fileBytes = new client.Counter({
    name: METRICS.fileBytes, help: 'Bytes of the files taken from drop folders', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly fileDuration = new client.Histogram({
    name: METRICS.fileDuration, help: 'A file taken from a drop folder to its receipt and archive', labelNames: ['adapter'], registers: [this.registry],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200],
  });
  readonly queueDepth = new client.Gauge({
    name: METRICS.queueDepth, help: 'Work waiting in each queue (outbox: events committed and not yet published on the bus; alerts: alerts stored and not yet published; sms: notifications not yet taken by the SMS gateway; outbound: subscription deliveries not yet taken)', labelNames: ['queue'], registers: [this.registry],
  });

  readonly outboundLag = new client.Gauge({
    name: METRICS.outboundLag, help: 'Age of the oldest event not yet taken by each subscription (target: the subscription id); 0 when none waits', labelNames: ['target'], registers: [this.registry],
  });

  readonly pollErrors = new client.Counter({
    name: METRICS.pollErrors, help: 'Failed polls of a department feed (each is retried with backoff)', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly pollPages = new client.Counter({
    name: METRICS.pollPages, help: 'Pages read from department feeds', labelNames: ['adapter'], registers: [this.registry],
  });

  // What the alerts compare with (infra/prometheus/rules), from each adapter definition's
  // monitoring section: how long a department may send nothing, and its end-to-end objective; when
  // it last sent something, and whether the office is open now.
  readonly adapterQuiet = new client.Gauge({
    name: METRICS.adapterQuiet, help: 'How long each department system may send nothing before it is called quiet (its adapter definition, monitoring.quietMinutes)', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly adapterEndToEndObjective = new client.Gauge({
    name: METRICS.adapterEndToEndObjective, help: 'The p99 of hub_end_to_end_seconds each department system is held to (its adapter definition, monitoring.endToEndObjectiveSeconds)', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly adapterLastMessage = new client.Gauge({
    name: METRICS.adapterLastMessage, help: 'When each department system last sent something this node took in (Unix seconds; at start, its newest raw message or dropped file in the store, or the start)', labelNames: ['adapter'], registers: [this.registry],
  });
  readonly workingHours = new client.Gauge({
    name: METRICS.workingHours, help: '1 during office hours (the configuration\'s monitoring.officeHours, on working days of the hub\'s calendar), 0 outside them', registers: [this.registry],
  });
  readonly ready = new client.Gauge({
    name: METRICS.ready, help: 'This node\'s readiness as GET /health/ready answers it: 1 ready, 0 not (a server it depends on does not answer, or no node runs a service its routes call)', registers: [this.registry],
  });

  readonly calendarFallback = new client.Counter({
    name: METRICS.calendarFallback, help: 'Supervision computations that met a date outside every loaded calendar year and counted it by weekdays alone', registers: [this.registry],
  });
  readonly sweepDuration = new client.Histogram({
    name: METRICS.sweepDuration, help: 'One sweep of the supervisor over the cases whose light was due to change', registers: [this.registry],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });

  constructor() {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'hub_process_' });
  }

  /** Times an async stage into hub_stage_duration_seconds. */
  async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const end = this.stageDuration.startTimer({ stage });
    try {
      return await fn();
    } finally {
      end();
    }
  }
}
