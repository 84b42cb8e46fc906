import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { MarketCaseStream, MarketBatch, MarketEvent, postBatch } from '../infra/simulators/market-regulation';
import { STORES, testDataDir } from './support/hub';
import { createTestDatabase } from './support/servers';

// Group commit of the intake (README "What every message goes through"): requests arriving while
// a commit is under way are stored, and their events applied, together in the next one. Each is
// still answered only after the commit that holds it, with the outcomes of applying the requests
// one after another, and a message that cannot be applied fails alone.

interface Answer { request: number; messageId: string; results: { eventId: string; result: string; supervisionCode?: string }[] }

for (const kind of STORES) {
  describe(`group commit of concurrent messages (${kind} store)`, function () {
    this.timeout(120_000);
    let hub: RunningHub;
    let dropDb: (() => Promise<void>) | null = null;
    let inbound: string;

    before(async () => {
      const dataDir = testDataDir(`group-commit-${kind}`);
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? db.drop : null;
      const file = path.join(dataDir, 'hub.yaml');
      fs.writeFileSync(file, YAML.stringify({
        region: '130100',
        adapters: [{ id: 'market-regulation', dir: path.join(ROOT, 'adapters/market-regulation') }],
        shutdownGraceSeconds: 5,
      }));
      const config = loadConfig({ HUB_CONFIG: file, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db ? db.url : 'embedded', HUB_LOG_LEVEL: 'silent' });
      hub = await startHub(config, createLogger('silent'));
      inbound = `${hub.url}/api/v1/inbound/market-regulation`;
    });

    after(async () => {
      await hub?.stop();
      await dropDb?.();
    });

    /** The supervision codes of the events stored from each of these raw messages (events are stored with the message they came in). */
    const storedFrom = async (messageIds: string[]) => {
      const r = await hub.context.store.driver.query<{ raw_message_id: string; supervision_code: string }>(
        'SELECT raw_message_id, supervision_code FROM events WHERE raw_message_id = ANY($1::text[])', [messageIds]);
      const by = new Map<string, string[]>(messageIds.map((id) => [id, []]));
      for (const row of r.rows) by.get(row.raw_message_id)!.push(row.supervision_code);
      return by;
    };
    const accepted = (results: Answer['results']) => results.filter((r) => r.result === 'accepted').map((r) => r.supervisionCode!);

    it('answers each of 40 concurrent requests after its own commit, with the outcomes of one request after another, several requests to a commit', async () => {
      const stream = new MarketCaseStream({ seed: `group-commit-${kind}` });
      const batches: MarketBatch[] = [];
      for (let i = 0; i < 40; i++) {
        const b = stream.nextBatch(1 + (i % 5));
        // Every fourth request repeats an event of the one before it: sent at once, one of the two is
        // applied and the other answered as its duplicate.
        if (i % 4 === 3) b.events.push({ ...batches[i - 1].events[0] });
        batches.push(b);
      }
      const notYetCommitted: string[] = [];
      const answers = await Promise.all(batches.map(async (batch, request): Promise<Answer> => {
        const a = await postBatch(inbound, batch);
        assert.equal(a.status, 200, JSON.stringify(a.body));
        const results = (a.body as { results: Answer['results'] }).results;
        const messageId = String(a.headers['x-hub-message-id']);
        // Read as soon as the answer arrives: the events it answered accepted are in the store already.
        const stored = (await storedFrom([messageId])).get(messageId)!;
        if (stored.length !== accepted(results).length) notYetCommitted.push(`request ${request}: ${accepted(results).length} accepted, ${stored.length} stored`);
        return { request, messageId, results };
      }));
      assert.deepEqual(notYetCommitted, [], 'no request is answered before its events are committed');

      const byEvent = new Map<string, { result: string; code?: string }[]>();
      answers.forEach(({ results }, request) => {
        assert.equal(results.length, batches[request].events.length, 'one result per event');
        results.forEach((r, i) => {
          assert.equal(r.eventId, batches[request].events[i].eventId, 'results in the order of the events');
          byEvent.set(r.eventId, [...(byEvent.get(r.eventId) ?? []), { result: r.result, code: r.supervisionCode }]);
        });
      });
      const distinct = new Set(batches.flatMap((b) => b.events.map((e: MarketEvent) => e.eventId)));
      assert.equal(byEvent.size, distinct.size);
      for (const [id, seen] of byEvent) {
        assert.deepEqual(seen.map((s) => s.result).sort(), ['accepted', ...Array(seen.length - 1).fill('duplicate')], `event ${id}: applied once, its repeats answered as duplicates`);
        assert.equal(new Set(seen.map((s) => s.code)).size, 1, `event ${id}: one supervision code in every answer`);
      }
      const stored = await storedFrom(answers.map((a) => a.messageId));
      assert.equal([...stored.values()].flat().length, distinct.size, 'every event stored once');
      for (const a of answers) assert.deepEqual(stored.get(a.messageId)!.sort(), accepted(a.results).sort(), `request ${a.request}: its accepted events stored under the codes answered`);

      // Each raw message's outcome was committed with its events; the transaction's time tells which
      // messages shared a commit.
      const ids = answers.map((a) => a.messageId);
      const raw = await hub.context.store.driver.query<{ id: string; state: string; records: number; at: string }>(
        'SELECT id, state, records, processed_at::text AS at FROM inbox WHERE id = ANY($1::text[])', [ids]);
      assert.equal(raw.rows.length, 40, 'every request\'s raw message is stored');
      for (const r of raw.rows) assert.equal(r.state, 'processed');
      const commits = new Set(raw.rows.map((r) => r.at)).size;
      assert.ok(commits < 40, `40 concurrent requests were applied in ${commits} commits: requests that waited shared one`);
    });

    it('fails only the message that cannot be applied, when it is committed with others', async () => {
      const { intake, store } = hub.context;
      const stream = new MarketCaseStream({ seed: `group-commit-fail-${kind}` });
      const messages = await Promise.all(Array.from({ length: 6 }, async () => {
        const batch = stream.nextBatch(3);
        const raw = await intake.receive('market-regulation', Buffer.from(JSON.stringify(batch)), 'application/json', {});
        return { raw, batch };
      }));
      // Another node took one of them over and processed it meanwhile.
      const taken = messages[3].raw.id;
      await store.inbox.markProcessed(taken, 0, { elsewhere: true });
      const outcomes = await Promise.allSettled(messages.map(({ raw, batch }) => intake.process(raw, batch.events)));

      outcomes.forEach((o, i) => {
        if (i === 3) {
          assert.equal(o.status, 'rejected');
          assert.match(((o as PromiseRejectedResult).reason as Error).message, /processed by another node/);
        } else {
          assert.equal(o.status, 'fulfilled', `message ${i}: ${(o as PromiseRejectedResult).reason}`);
          assert.deepEqual((o as PromiseFulfilledResult<{ result: string }[]>).value.map((x) => x.result), ['accepted', 'accepted', 'accepted']);
        }
      });
      const stored = await storedFrom(messages.map((m) => m.raw.id));
      messages.forEach((m, i) => assert.equal(stored.get(m.raw.id)!.length, i === 3 ? 0 : 3, `message ${i}: ${i === 3 ? 'nothing applied' : 'its events applied'}`));
      const states = await store.driver.query<{ id: string; state: string; result: unknown }>('SELECT id, state, result FROM inbox WHERE id = ANY($1::text[])', [messages.map((m) => m.raw.id)]);
      for (const r of states.rows) assert.equal(r.state, 'processed');
      assert.deepEqual(states.rows.find((r) => r.id === taken)!.result, { elsewhere: true }, 'the other node\'s outcome stands');
    });
  });
}
