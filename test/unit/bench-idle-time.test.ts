// The tuner benchmark's idle worker time, read from runtime events: a worker is idle from
// ready or its answer to its next request or its exit, only inside the replay's window; idle
// periods that end in an exit are kept apart (under a keep-alive of 0, the time to stop).
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { IdleTime } from '../../bench/lib/idle-time.js';
import type { RuntimeEvent } from '../../shared/events.js';

const MS = 1e6;
let seq = 0;

function event(type: 'worker_ready' | 'invoke_start' | 'invoke_end' | 'worker_exit', workerId: number, atMs: number): RuntimeEvent {
  const base = { seq: ++seq, ts: atMs * MS, function: 'fn', workerId, pid: 100 + workerId };
  switch (type) {
    case 'worker_ready':
      return { ...base, type, spawnToReadyMs: 3 };
    case 'invoke_start':
      return { ...base, type, id: seq, cold: false, waitedMs: 0 };
    case 'invoke_end':
      return { ...base, type, id: seq, cold: false, status: 200, durationMs: 1, latencyMs: 1 };
    case 'worker_exit':
      return { ...base, type, code: 0, signal: null, reason: 'exited with code 0', inflight: [], oomKilled: false };
  }
}

test('idle seconds inside the window, and the idle periods that ended in an exit', () => {
  const idle = new IdleTime(100 * MS, 1000 * MS);
  for (const e of [
    event('worker_ready', 1, 50), // idle from 50, counted from 100
    event('invoke_start', 1, 200),
    event('invoke_end', 1, 210),
    event('worker_exit', 1, 222), // stopped 12 ms after its answer
    event('worker_ready', 2, 300),
    event('invoke_start', 2, 400),
    event('invoke_end', 2, 500), // idle to the window's end
  ]) {
    idle.take(e);
  }
  assert.equal(idle.seconds().get('fn'), (100 + 12 + 100 + 500) / 1000);
  assert.deepEqual(idle.untilExitMs, [12]);
});

test.run();
