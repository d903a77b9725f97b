// A worker's invocations in flight, by id: counts, lookups, removal while walking the list.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { InflightInvocations } from '../../runtime/supervisor/inflight.js';
import { newInvocation, type Invocation } from '../../runtime/supervisor/invocation.js';

const invocation = (id: number): Invocation => newInvocation({ id, fn: 'fn', body: Buffer.alloc(0), arrivedAt: id, deadline: id + 10, done: () => undefined });

test('adds, finds and removes by id, keeping the count', () => {
  const inflight = new InflightInvocations();
  const [a, b, c] = [invocation(7), invocation(8), invocation(1_000_000)];
  for (const each of [a, b, c]) inflight.add(each);
  inflight.add(b); // the same id again does not count twice
  assert.equal(inflight.size, 3);
  assert.equal(inflight.get(8), b);
  assert.equal(inflight.get(9), undefined);
  assert.equal(inflight.delete(8), true);
  assert.equal(inflight.delete(8), false, 'a second removal finds nothing');
  assert.equal(inflight.size, 2);
  assert.deepEqual(inflight.list(), [a, c], 'oldest (lowest id) first');
  inflight.clear();
  assert.equal(inflight.size, 0);
  assert.deepEqual(inflight.list(), []);
});

test('the list is a copy: entries can be removed while it is walked', () => {
  const inflight = new InflightInvocations();
  for (let id = 1; id <= 100; id++) inflight.add(invocation(id));
  let walked = 0;
  for (const each of inflight.list()) {
    walked++;
    if (each.deadline <= 60) inflight.delete(each.id);
  }
  assert.equal(walked, 100);
  assert.equal(inflight.size, 50);
  assert.equal(inflight.get(50), undefined);
  assert.equal(inflight.get(51)?.id, 51);
});

test('a long run of ids through a few slots leaves nothing behind', () => {
  const inflight = new InflightInvocations();
  for (let id = 1; id <= 100_000; id++) {
    inflight.add(invocation(id));
    if (id > 64) assert.equal(inflight.delete(id - 64), true);
  }
  assert.equal(inflight.size, 64);
  assert.deepEqual(inflight.list().map((each) => each.id), Array.from({ length: 64 }, (_, i) => 100_000 - 63 + i));
});

test.run();
