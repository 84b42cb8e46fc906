import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ServiceBroker } from 'moleculer';
import { createLogger } from '../core/kernel/logger';
import { moleculerLoggerConfig } from './moleculer-logger';

// Moleculer's own log lines (the broker's, the bus's, moleculer-web's) go through the hub's logger:
// JSON lines like the hub's, personal data masked, at the level the hub gives them.

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } });
  return { lines, logger: createLogger('info', stream) };
}

describe("Moleculer's log lines through the hub's logger", () => {
  it('writes them as JSON lines of the hub, its ID numbers and mobiles masked, the error and data kept as fields', async () => {
    const { lines, logger } = capture();
    const broker = new ServiceBroker({ nodeID: 'log-test', logger: moleculerLoggerConfig(logger, 'warn') });
    await broker.start();
    try {
      broker.getLogger('bus').warn('publish failed for applicant 130102198503120412', { mobile: '13831100425' }, new Error('refused 13831100425'));
      broker.logger.info('an info line is below the level given');
    } finally {
      await broker.stop();
    }
    const ours = lines.map((l) => JSON.parse(l)).filter((o) => o.component === 'moleculer');
    assert.equal(ours.length, 1, lines.join('\n'));
    const [line] = ours;
    assert.equal(line.app, 'case-exchange-hub');
    assert.equal(line.level, 'warn');
    assert.equal(line.module, 'bus');
    assert.match(line.msg, /^publish failed for applicant /);
    const text = JSON.stringify(line);
    assert.doesNotMatch(text, /130102198503120412|13831100425/, 'no ID number or mobile unmasked');
    assert.ok(line.err && /^refused /.test(line.err.message), 'the error kept as a field');
    assert.ok(line.data && typeof line.data.mobile === 'string', 'the data kept as a field');
  });

  it('writes none when the hub is silent', () => {
    const { logger } = capture();
    assert.equal(moleculerLoggerConfig(logger, false), false);
  });
});
