import type { CaseEvent } from '../../contracts/types';
import type { HubContext } from '../context';
import type { MappingFailure } from '../../core/ports/mapping';

export type ReplayOutcome =
  | { id: string; result: 'applied' | 'duplicate'; dryRun: boolean; eventId: string; supervisionCode?: string; event?: CaseEvent; profileVersion: string }
  | { id: string; result: 'still-failing'; dryRun: boolean; failure: MappingFailure; profileVersion: string };

/**
 * Runs a dead letter's record through the profile now in force. Applying is idempotent (the event
 * id is the same as it would have been the first time), so a second replay changes nothing. A dry
 * run maps only: nothing is written.
 */
export async function replayDeadLetter(hub: HubContext, id: string, opts: { dryRun: boolean }): Promise<ReplayOutcome | null> {
  const d = await hub.store.deadLetters.get(id);
  if (!d) return null;
  const profile = hub.profiles.get(d.adapter);
  const batch = (d.context as { batch?: Record<string, unknown> }).batch;
  const mapped = await profile.mapRecord(d.record, { rawMessageId: d.rawMessageId, recordIndex: d.recordIndex, batch });
  const base = { id, dryRun: opts.dryRun, profileVersion: profile.version };
  if (!mapped.ok) {
    if (!opts.dryRun) await hub.store.driver.transaction((tx) => hub.store.deadLetters.recordReplayIn(tx, id, { resolved: false, failure: mapped.failure, resolution: { at: new Date().toISOString(), profileVersion: profile.version, failure: mapped.failure.reason } }));
    return { ...base, result: 'still-failing', failure: mapped.failure };
  }
  if (opts.dryRun) {
    const known = await hub.store.driver.query('SELECT 1 FROM events WHERE id = $1', [mapped.event.id]);
    return { ...base, result: known.rows.length ? 'duplicate' : 'applied', eventId: mapped.event.id, event: mapped.event };
  }
  const result = await hub.store.driver.transaction(async (tx) => {
    const [r] = await hub.store.cases.applyIn(tx, [mapped.event], { receivedAt: new Date(d.receivedAt) });
    if (r.result === 'rejected') {
      const failure: MappingFailure = { adapter: d.adapter, field: r.field, value: r.value ?? null, rule: r.rule, reason: r.reason };
      await hub.store.deadLetters.recordReplayIn(tx, id, { resolved: false, failure, resolution: { at: new Date().toISOString(), failure: r.reason } });
      return { ...base, result: 'still-failing' as const, failure };
    }
    await hub.store.deadLetters.recordReplayIn(tx, id, { resolved: true, resolution: { at: new Date().toISOString(), profileVersion: profile.version, eventId: r.eventId, result: r.result } });
    return { ...base, result: r.result === 'accepted' ? ('applied' as const) : ('duplicate' as const), eventId: r.eventId, supervisionCode: r.supervisionCode };
  });
  if (result.result === 'applied') {
    hub.metrics.events.inc({ department: mapped.event.data.department.code, status: mapped.event.data.status });
    hub.logger.info({ adapter: d.adapter, deadLetter: id, eventId: mapped.event.id, profileVersion: profile.version }, 'dead letter replayed and applied');
  }
  return result;
}
