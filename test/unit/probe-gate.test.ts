// The probe gate: a deploy waits for every holding follower's acknowledgement, and no longer
// than its timeout; followers that leave stop counting.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { createLogger } from '../../shared/log.js';
import { ProbeGate } from '../../runtime/probe-gate.js';

function gate(timeoutMs = 1000): { gate: ProbeGate; warnings: string[] } {
  const warnings: string[] = [];
  const log = createLogger('warn', (line) => warnings.push(line));
  return { gate: new ProbeGate(log, timeoutMs), warnings };
}

async function settled(promise: Promise<void>, withinMs: number): Promise<boolean> {
  return Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), withinMs))]);
}

test('with no holder nothing waits', async () => {
  const { gate: g } = gate();
  assert.equal(await settled(g.wait(5, 'fn'), 5), true);
});

test('waits until every holder has acknowledged the event', async () => {
  const { gate: g } = gate();
  const a = g.register(3);
  const b = g.register(3);
  const waiting = g.wait(5, 'fn');
  assert.equal(g.ack(a, 5), true);
  assert.equal(await settled(waiting, 20), false, 'b has not acknowledged yet');
  assert.equal(g.ack(b, 4), true);
  assert.equal(await settled(waiting, 20), false, 'an earlier event does not count');
  g.ack(b, 6);
  assert.equal(await settled(waiting, 20), true);
});

test('acknowledgements are cumulative and never go back', async () => {
  const { gate: g } = gate();
  const a = g.register(0);
  g.ack(a, 10);
  g.ack(a, 2);
  assert.equal(await settled(g.wait(9, 'fn'), 5), true);
});

test('a holder that leaves stops holding', async () => {
  const { gate: g } = gate();
  const a = g.register(0);
  const waiting = g.wait(1, 'fn');
  g.release(a);
  assert.equal(await settled(waiting, 20), true);
  assert.equal(g.ack(a, 1), false, 'a released holder is unknown');
  assert.equal(g.holderCount, 0);
});

test('a silent holder delays a deploy by the timeout, with a warning', async () => {
  const { gate: g, warnings } = gate(50);
  g.register(0);
  const started = Date.now();
  await g.wait(1, 'function slow version 3');
  assert.ok(Date.now() - started >= 45, 'waited for the timeout');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /function slow version 3: 1 tracer\(s\) did not confirm/);
});

test.run();
