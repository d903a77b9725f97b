import assert from 'node:assert/strict';
import { test } from 'uvu';
import { WaitQueue } from '../../runtime/pool/queue.js';

test('FIFO order, cancel from anywhere, and length counts live items only', () => {
  const queue = new WaitQueue<{ n: number }>();
  const items = Array.from({ length: 5 }, (_, n) => ({ n }));
  for (const item of items) queue.push(item);
  assert.equal(queue.length, 5);
  assert.equal(queue.cancel(items[2]!), true);
  assert.equal(queue.cancel(items[2]!), false, 'cancelling twice is a no-op');
  assert.equal(queue.length, 4);
  assert.equal(queue.shift()!.n, 0);
  assert.equal(queue.cancel(items[0]!), false, 'a shifted item is no longer waiting');
  assert.deepEqual(queue.drain().map((item) => item.n), [1, 3, 4]);
  assert.equal(queue.length, 0);
  assert.equal(queue.shift(), undefined);
});

test('stays correct across many pushes and shifts (compaction)', () => {
  const queue = new WaitQueue<{ n: number }>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 50; i++) queue.push({ n: next++ });
    for (let i = 0; i < 40; i++) assert.equal(queue.shift()!.n, expected++);
  }
  assert.equal(queue.length, next - expected);
});

test.run();
