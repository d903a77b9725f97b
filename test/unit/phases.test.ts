// The phase tracker's joining logic, on synthetic event sequences (the integration suites run
// it against the real kernel and runtime).
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { PhaseTracker, type ColdStartRecord, type ExitRecord } from '../../agent/phases/tracker.js';
import { COOKIE_GO_ABI, decodeEvent, encodeEvent, EventDecodeError, EventType, Marker, type KernelEvent } from '../../agent/probes/events.js';
import type { RuntimeEvent } from '../../shared/events.js';

const MS = 1e6;

function setup(): { tracker: PhaseTracker; records: ColdStartRecord[]; exits: ExitRecord[] } {
  const records: ColdStartRecord[] = [];
  const exits: ExitRecord[] = [];
  const tracker = new PhaseTracker({ settleNs: 10 * MS, timeoutNs: 1000 * MS, onRecord: (record) => records.push(record), onExit: (record) => exits.push(record) });
  return { tracker, records, exits };
}

let seq = 0;
function runtime(event: Record<string, unknown> & { type: RuntimeEvent['type']; ts: number }): RuntimeEvent {
  return { seq: ++seq, ...event } as unknown as RuntimeEvent;
}

function kernel(type: KernelEvent['type'], pid: number, ts: number, extra: Partial<KernelEvent> = {}): KernelEvent {
  return { ts, type, pid, ppid: 0, tid: pid, arg: 0, arg2: 0, cookie: 0, comm: 'w', ...extra };
}

test('a Go cold start from a seed: the seed\'s fork predates the request and is left out', () => {
  const { tracker, records } = setup();
  tracker.kernel(kernel(EventType.FORK, 100, 1 * MS, { ppid: 1 })); // the seed, long before
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 100 * MS, function: 'fn', workerId: 7, reason: 'cold' }));
  tracker.runtime(runtime({ type: 'worker_spawned', ts: 100.2 * MS, function: 'fn', workerId: 7, pid: 100, binary: '/bin/fn', origin: 'seed' }));
  tracker.kernel(kernel(EventType.EXEC, 100, 100.5 * MS));
  tracker.kernel(kernel(EventType.MARK, 100, 101.0 * MS, { cookie: Marker.GO_RUNTIME_MAIN, arg2: COOKIE_GO_ABI }));
  tracker.kernel(kernel(EventType.MARK, 100, 101.2 * MS, { cookie: Marker.GO_MAIN_MAIN }));
  tracker.kernel(kernel(EventType.STATE_MMAP, 100, 101.3 * MS));
  tracker.kernel(kernel(EventType.MARK, 100, 101.35 * MS, { cookie: Marker.STATE_MAPPED }));
  tracker.kernel(kernel(EventType.IPC_WRITE, 100, 101.5 * MS));
  tracker.runtime(runtime({ type: 'worker_ready', ts: 101.7 * MS, function: 'fn', workerId: 7, pid: 100, spawnToReadyMs: 1.7 }));
  tracker.runtime(runtime({ type: 'invoke_start', ts: 101.8 * MS, function: 'fn', id: 55, workerId: 7, pid: 100, cold: true }));
  tracker.runtime(runtime({ type: 'invoke_end', ts: 102.0 * MS, function: 'fn', id: 55, workerId: 7, pid: 100, status: 200 }));
  assert.equal(records.length, 0, 'held back while kernel events may still arrive');
  tracker.tick(115 * MS);
  assert.equal(records.length, 1);
  const record = records[0]!;
  assert.equal(record.requestId, 55);
  assert.equal(record.outcome, 'served');
  assert.deepEqual(
    record.phases.map((timing) => [timing.phase, Math.round(timing.durationNs / 1000), timing.source]),
    [
      ['exec', 500, 'kernel'],
      ['runtime_init', 500, 'kernel'],
      ['user_init', 200, 'kernel'],
      ['state_mapped', 150, 'sdk'],
      ['ready', 150, 'kernel'],
      ['first_response', 500, 'runtime'],
    ],
  );
  assert.equal(record.measured.fork, null);
  assert.equal(Math.round(record.totalNs / 1000), 2000);
});

test('a stem cell: its exec predates the request; markers and the runtime fill the rest', () => {
  const { tracker, records } = setup();
  tracker.kernel(kernel(EventType.EXEC, 200, 5 * MS));
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 50 * MS, function: '(stem-cell)', workerId: 9, reason: 'stem' }));
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 100 * MS, function: 'node', workerId: 9, reason: 'cold' }));
  tracker.runtime(runtime({ type: 'worker_spawned', ts: 100.1 * MS, function: 'node', workerId: 9, pid: 200, binary: '/usr/bin/node', origin: 'stem-cell' }));
  tracker.kernel(kernel(EventType.MARK, 200, 103 * MS, { cookie: Marker.STATE_MAPPED }));
  tracker.kernel(kernel(EventType.MARK, 200, 104 * MS, { cookie: Marker.READY }));
  tracker.runtime(runtime({ type: 'worker_ready', ts: 104.2 * MS, function: 'node', workerId: 9, pid: 200, spawnToReadyMs: 4.2 }));
  tracker.runtime(runtime({ type: 'invoke_start', ts: 104.3 * MS, function: 'node', id: 3, workerId: 9, pid: 200, cold: true }));
  tracker.runtime(runtime({ type: 'invoke_end', ts: 106 * MS, function: 'node', id: 3, workerId: 9, pid: 200, status: 200 }));
  tracker.tick(200 * MS);
  assert.equal(records.length, 1);
  assert.deepEqual(records[0]!.phases.map((timing) => [timing.phase, timing.source]), [
    ['state_mapped', 'sdk'],
    ['ready', 'sdk'],
    ['first_response', 'runtime'],
  ]);
  assert.equal(records[0]!.origin, 'stem-cell');
});

test('a worker that dies before ready is a failed cold start, and its exit is attributed', () => {
  const { tracker, records, exits } = setup();
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 10 * MS, function: 'bad', workerId: 1, reason: 'cold' }));
  tracker.runtime(runtime({ type: 'worker_spawned', ts: 10.1 * MS, function: 'bad', workerId: 1, pid: 300, binary: '/bin/bad', origin: 'spawn' }));
  tracker.kernel(kernel(EventType.EXEC, 300, 10.5 * MS));
  tracker.kernel(kernel(EventType.OOM, 300, 11 * MS));
  tracker.kernel(kernel(EventType.EXIT, 300, 11.1 * MS, { arg: 9 }));
  tracker.runtime(runtime({ type: 'worker_exit', ts: 11.3 * MS, function: 'bad', workerId: 1, pid: 300, code: null, signal: 'SIGKILL', reason: 'was killed', inflight: [], oomKilled: false }));
  tracker.tick(50 * MS);
  assert.equal(records[0]!.outcome, 'failed');
  assert.equal(exits.length, 1);
  assert.equal(exits[0]!.oomKilled, true, 'the kernel\'s OOM event marks it even when the runtime could not tell');
});

test('a pre-warmed worker is recorded at ready; a cold one waits for its first response or times out', () => {
  const { tracker, records } = setup();
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 0, function: 'warm', workerId: 2, reason: 'prewarm' }));
  tracker.runtime(runtime({ type: 'worker_ready', ts: 2 * MS, function: 'warm', workerId: 2, pid: 400, spawnToReadyMs: 2 }));
  tracker.runtime(runtime({ type: 'spawn_requested', ts: 0, function: 'slow', workerId: 3, reason: 'cold' }));
  tracker.runtime(runtime({ type: 'worker_ready', ts: 2 * MS, function: 'slow', workerId: 3, pid: 401, spawnToReadyMs: 2 }));
  tracker.runtime(runtime({ type: 'invoke_start', ts: 2.1 * MS, function: 'slow', id: 8, workerId: 3, pid: 401, cold: true }));
  tracker.tick(20 * MS);
  assert.deepEqual(records.map((record) => [record.function, record.outcome]), [['warm', 'ready']]);
  tracker.tick(2000 * MS);
  assert.deepEqual(records.map((record) => [record.function, record.outcome]), [['warm', 'ready'], ['slow', 'timed_out']]);
});

test('events round-trip through the ring buffer layout; foreign records are refused', () => {
  const event = kernel(EventType.MARK, 4242, 123456789, { ppid: 1, arg: 2 ** 40, arg2: COOKIE_GO_ABI, cookie: Marker.READY, comm: 'go-lookup' });
  const bytes = encodeEvent(event);
  assert.equal(bytes.length, 64);
  assert.deepEqual(decodeEvent(bytes, 0, 64), event);
  assert.throws(() => decodeEvent(bytes, 0, 32), EventDecodeError);
  const bad = Buffer.from(bytes);
  bad.writeUInt32LE(99, 8);
  assert.throws(() => decodeEvent(bad, 0, 64), /unknown event type 99/);
});

test.run();

test('a reused pid starts over, and what finished a minute ago is forgotten', () => {
  const { tracker, records } = setup();
  const start = (workerId: number, at: number): void => {
    tracker.runtime(runtime({ type: 'spawn_requested', ts: at, function: 'fn', workerId, reason: 'prewarm' }));
    tracker.kernel(kernel(EventType.FORK, 300, at + 0.1 * MS, { ppid: 1 }));
    tracker.runtime(runtime({ type: 'worker_spawned', ts: at + 0.2 * MS, function: 'fn', workerId, pid: 300, binary: '/bin/fn', origin: 'fork' }));
    tracker.kernel(kernel(EventType.EXEC, 300, at + 0.5 * MS));
    tracker.runtime(runtime({ type: 'worker_ready', ts: at + 1 * MS, function: 'fn', workerId, pid: 300, spawnToReadyMs: 1 }));
  };
  start(1, 0);
  tracker.kernel(kernel(EventType.EXIT, 300, 5 * MS));
  tracker.runtime(runtime({ type: 'worker_exit', ts: 5 * MS, function: 'fn', workerId: 1, pid: 300, code: 0, signal: null, oomKilled: false, inflight: [], reason: 'idle' }));
  tracker.tick(20 * MS);
  start(2, 30 * MS);
  tracker.tick(50 * MS);
  assert.equal(records.length, 2);
  const fork = records[1]!.phases.find((timing) => timing.phase === 'fork');
  assert.deepEqual([fork?.durationNs, fork?.source], [0.1 * MS, 'kernel'], 'the fork is the new one');
  assert.deepEqual(tracker.tracking, { processes: 1, workers: 2 });
  tracker.tick(61_000 * MS);
  assert.deepEqual(tracker.tracking, { processes: 1, workers: 0 }, 'pid 300 is still alive; both workers are forgotten');
});
