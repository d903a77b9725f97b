// The live tuner's pure parts: the runtime's events turned into the policy's events, the
// regression watcher's verdicts, the decision log, what a decision asks of the runtime over
// time, and the applier that sends it (against a recording fake of the runtime's PATCH).
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { DecisionLog, type NewDecision } from '../../agent/tuner/live/decision-log.js';
import { InvocationFeed, type Outcome } from '../../agent/tuner/live/invocation-feed.js';
import { PoolApplier } from '../../agent/tuner/live/pool-applier.js';
import { decisionValues, heldWindow, nextChange, poolAt, type RuntimePool } from '../../agent/tuner/live/pool-settings.js';
import { RegressionWatcher, type WatchOptions } from '../../agent/tuner/live/regression-watcher.js';
import type { PoolDecision } from '../../agent/tuner/policies/policy.js';
import type { RuntimeEvent } from '../../shared/events.js';

let seq = 0;
const MS = 1e6;

function start(id: number, atMs: number, waitedMs = 0, fn = 'fn'): RuntimeEvent {
  return { type: 'invoke_start', seq: ++seq, ts: atMs * MS, function: fn, id, workerId: 1, pid: 100, cold: waitedMs > 0, waitedMs };
}

function end(id: number, atMs: number, durationMs: number, status = 200, fn = 'fn'): RuntimeEvent {
  return { type: 'invoke_end', seq: ++seq, ts: atMs * MS, function: fn, id, workerId: 1, pid: 100, cold: false, status, durationMs, latencyMs: durationMs + 1 };
}

test('feed: an arrival is dated back by its wait; a function\'s events go out in time order, never before what went out already', () => {
  const feed = new InvocationFeed();
  // Request 1 arrived at 100 and waited 5 ms for a cold start; request 2 arrived at 103 and got a warm worker at once.
  const first = feed.take([start(2, 103), start(1, 105, 5), end(2, 110, 7)]).events.get('fn')!;
  assert.deepEqual(first.map((event) => [event.kind, event.at]), [['arrival', 100], ['arrival', 103], ['end', 110]]);
  // Request 3 waited 20 ms (queued): it arrived at 100, before the end already handed on; it counts as arriving then.
  const second = feed.take([start(3, 120, 20), end(1, 125, 20)]).events.get('fn')!;
  assert.deepEqual(second.map((event) => [event.kind, event.at]), [['arrival', 110], ['end', 125]]);
});

test('feed: outcomes of answers and refusals; an end without its start is not the policy\'s business', () => {
  const feed = new InvocationFeed();
  const refused: RuntimeEvent = { type: 'invoke_refused', seq: ++seq, ts: 50 * MS, function: 'fn', id: 9, status: 429, errorCode: 'HEARTH_ERR_QUEUE_FULL', waitedMs: 0.2 };
  const batch = feed.take([end(7, 40, 3), start(8, 41), end(8, 45, 4, 502), refused]);
  assert.deepEqual(batch.events.get('fn')!.map((event) => event.kind), ['arrival', 'end']);
  assert.deepEqual(
    batch.outcomes.map((outcome) => [outcome.latencyMs, outcome.failed]),
    [[5, true], [0.2, true]],
  );
});

test('feed: a gap in the sequence is counted; a request in flight past its timeout gets an end', () => {
  const feed = new InvocationFeed();
  feed.take([start(1, 10)]);
  seq += 5;
  feed.take([start(2, 20)]);
  assert.equal(feed.lost, 5);
  assert.equal(feed.sweep(1000, () => 2000).size, 0, 'not yet past the timeout');
  const ends = feed.sweep(2015, () => 2000).get('fn')!;
  assert.deepEqual(ends.map((event) => [event.kind, event.at]), [['end', 2015]]);
  assert.equal(feed.sweep(5000, () => 2000).get('fn')!.length, 1, 'request 2 is swept later; request 1 only once');
});

const WATCH: WatchOptions = { windowMs: 1000, minSamples: 20, maxWaitMs: 5000, latencyTolerance: 0.5, minLatencyIncreaseMs: 5, errorTolerance: 0.01, minErrors: 3, maxSamples: 1000 };

/** `count` outcomes of `fn` spread over [from, to), each waiting `waitMs` for a worker and then running `runMs`, the first `failed` of them failed. */
function outcomes(from: number, to: number, count: number, waitMs: number, failed = 0, runMs = 50): Outcome[] {
  return Array.from({ length: count }, (_, i) => ({ function: 'fn', at: from + ((to - from) * i) / count, latencyMs: waitMs + runMs, waitMs, failed: i < failed }));
}

test('watcher: a pool change is judged on the wait for a worker, a GC change on the whole latency', () => {
  const slowerHandler = (setting: 'pool' | 'gc'): boolean => {
    const watcher = new RegressionWatcher(WATCH);
    watcher.record(outcomes(0, 1000, 100, 1, 0, 20));
    watcher.changed('fn', setting, 1000);
    watcher.record(outcomes(1000, 2000, 100, 1, 0, 80));
    return watcher.check(2000)[0]!.regressed;
  };
  assert.equal(slowerHandler('pool'), false, 'pool settings do not make the handler slower');
  assert.equal(slowerHandler('gc'), true);
});

test('watcher: p99 up past the tolerance is a regression; within it, or by less than the floor, is not', () => {
  const slower = new RegressionWatcher(WATCH);
  slower.record(outcomes(0, 1000, 100, 10));
  slower.changed('fn', 'pool', 1000);
  slower.record(outcomes(1000, 1900, 100, 30));
  assert.deepEqual(slower.check(1900), [], 'the window after is not over');
  const [verdict] = slower.check(2000);
  assert.equal(verdict!.regressed, true);
  assert.match(verdict!.detail, /^latency got worse after the pool change: p99 wait for a worker 10\.0 → 30\.0 ms/);
  assert.deepEqual(slower.check(3000), [], 'a watch ends with its verdict');

  const within = new RegressionWatcher(WATCH);
  within.record(outcomes(0, 1000, 100, 10));
  within.changed('fn', 'pool', 1000);
  within.record(outcomes(1000, 2000, 100, 14));
  assert.equal(within.check(2000)[0]!.regressed, false, '+4 ms is below the 5 ms floor');
});

test('watcher: errors up by more than a point is a regression; a change during a watch joins it and starts its window after again', () => {
  const watcher = new RegressionWatcher(WATCH);
  watcher.record(outcomes(0, 1000, 100, 10, 1));
  watcher.changed('fn', 'pool', 1000);
  watcher.record(outcomes(1000, 1500, 50, 10));
  watcher.changed('fn', 'gc', 1500);
  watcher.record(outcomes(1500, 2500, 100, 10, 5));
  assert.deepEqual(watcher.check(2000), [], 'a window after the latest change');
  const [verdict] = watcher.check(2500);
  assert.equal(verdict!.regressed, true);
  assert.deepEqual(verdict!.settings, ['pool', 'gc']);
  assert.match(verdict!.detail, /^errors got worse after the pool and gc change/);
});

test('watcher: too few requests gives no verdict (at once without enough before; after waiting, without enough after)', () => {
  const quietBefore = new RegressionWatcher(WATCH);
  quietBefore.record(outcomes(0, 1000, 5, 10));
  quietBefore.changed('fn', 'pool', 1000);
  const [early] = quietBefore.check(2000);
  assert.equal(early!.regressed, false);
  assert.match(early!.inconclusive!, /too few requests to judge \(5 before, 0 after/);

  const quietAfter = new RegressionWatcher(WATCH);
  quietAfter.record(outcomes(0, 1000, 100, 10));
  quietAfter.changed('fn', 'pool', 1000);
  quietAfter.record(outcomes(1000, 2000, 10, 50));
  assert.deepEqual(quietAfter.check(2000), [], 'waits for more requests');
  quietAfter.record(outcomes(2000, 3000, 10, 50));
  assert.equal(quietAfter.check(3000)[0]!.regressed, true, '20 requests after: enough');
  // A change while a watch without enough requests before it runs: the watch starts again from it.
  const restarted = new RegressionWatcher(WATCH);
  restarted.changed('fn', 'pool', 0);
  restarted.record(outcomes(0, 1000, 100, 10));
  restarted.changed('fn', 'pool', 1000);
  restarted.record(outcomes(1000, 2000, 100, 40));
  assert.deepEqual(restarted.check(1500), [], 'the first watch did not end at its own window');
  assert.equal(restarted.check(2000)[0]!.regressed, true);
  const lasting = new RegressionWatcher(WATCH);
  lasting.record(outcomes(0, 1000, 100, 10));
  lasting.changed('fn', 'pool', 1000);
  assert.match(lasting.check(6000)[0]!.inconclusive!, /100 before, 0 after/, 'gives up at maxWaitMs');
});

function entry(fn: string, before: Record<string, number>, after: Record<string, number>): NewDecision {
  return { atMs: 1, function: fn, kind: 'pool', by: 'hearth', before, after, reason: 'because', inputs: { x: 1 }, outcome: 'applied' };
}

test('decision log: numbered, says what changed, bounded, filtered, followed', () => {
  const log = new DecisionLog(3);
  const seen: number[] = [];
  log.subscribe((decision) => seen.push(decision.seq));
  const first = log.add(entry('a', { min: 0, max: 4, keepAliveMs: 600_000 }, { min: 2, max: 4, keepAliveMs: 45_000 }));
  assert.deepEqual([first.seq, first.changed, first.change], [1, ['min', 'keepAliveMs'], 'min 0→2, keepAliveMs 600000→45000']);
  const prewarm = log.add(entry('b', { min: 0 }, { min: 0, prewarmWorkers: 3 }));
  assert.equal(prewarm.change, 'prewarmWorkers -→3');
  log.add(entry('a', { min: 2 }, { min: 1 }));
  log.add(entry('b', { min: 0 }, { min: 1 }));
  assert.deepEqual(log.list().map((decision) => decision.seq), [2, 3, 4], 'the oldest went first');
  assert.deepEqual(log.list({ function: 'b' }).map((decision) => decision.seq), [2, 4]);
  assert.deepEqual(log.list({ since: 2, limit: 1 }).map((decision) => decision.seq), [4]);
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.equal(log.lastSeq, 4);
});

function decision(settings: Partial<PoolDecision>): PoolDecision {
  return { function: 'fn', policy: 'test', at: 1000, min: 1, max: 8, keepAliveMs: 60_000.4, reason: 'test', inputs: {}, ...settings };
}

test('pool settings: a pre-warm raises min over its window only; whole milliseconds; min never above max', () => {
  const withPrewarm = decision({ prewarm: { atMs: 2000, untilMs: 3000, workers: 5 } });
  assert.deepEqual(poolAt(withPrewarm, 1999), { min: 1, max: 8, keepAliveMs: 60_000, spare: 0 });
  assert.deepEqual(poolAt(withPrewarm, 2000), { min: 5, max: 8, keepAliveMs: 60_000, spare: 0 });
  assert.deepEqual(poolAt(withPrewarm, 3000), { min: 1, max: 8, keepAliveMs: 60_000, spare: 0 });
  assert.deepEqual([nextChange(withPrewarm, 1500), nextChange(withPrewarm, 2500), nextChange(withPrewarm, 3500)], [2000, 3000, undefined]);
  assert.equal(poolAt(decision({ max: 2, prewarm: { atMs: 0, untilMs: 10_000, workers: 5 } }), 1500).min, 2);
  assert.deepEqual(decisionValues(withPrewarm), { min: 1, max: 8, keepAliveMs: 60_000, spare: 0, prewarmWorkers: 5, prewarmInMs: 1000, prewarmForMs: 1000 });
  assert.deepEqual(poolAt(decision({ max: 2, spare: 3 }), 0).spare, 2, 'spare never above max');
});

test('pool settings: a window open when a later decision replaces it stays open to its end, and only then', () => {
  const first = decision({ prewarm: { atMs: 2000, untilMs: 3000, workers: 5 } });
  const next = decision({ min: 0, prewarm: { atMs: 7000, untilMs: 8000, workers: 4 } });
  assert.equal(heldWindow(first, undefined, 1500), undefined, 'not open yet: nothing to hold');
  const held = heldWindow(first, undefined, 2500);
  assert.deepEqual(held, first.prewarm);
  assert.equal(poolAt(next, 2500, held).min, 5, 'the burst it was opened for keeps its workers');
  assert.equal(poolAt(next, 3000, held).min, 0, 'closed at its end');
  assert.deepEqual([nextChange(next, 2500, held), nextChange(next, 3500, held)], [3000, 7000]);
  assert.deepEqual(heldWindow(next, held, 2600), held, 'carried over a second replacement while open');
  assert.equal(heldWindow(next, held, 3100), undefined);
});

/** A runtime's PATCH that records what it was sent, answering after `delayMs`. */
function fakeRuntime(delayMs = 0): { sent: RuntimePool[]; patch: (fn: string, pool: RuntimePool) => Promise<RuntimePool> } {
  const sent: RuntimePool[] = [];
  return {
    sent,
    patch: async (_fn, pool) => {
      sent.push(pool);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      return pool;
    },
  };
}

test('applier: sends what changed, nothing when it is in force; opens and closes a pre-warm on time', async () => {
  const runtime = fakeRuntime();
  const failures: string[] = [];
  const applier = new PoolApplier({ patch: runtime.patch, now: () => performance.now(), failed: (_fn, error) => failures.push(error.message) });
  applier.inForce('fn', { min: 1, max: 8, keepAliveMs: 60_000, spare: 0 });
  await applier.follow('fn', decision({}));
  assert.equal(runtime.sent.length, 0, 'already in force');
  const now = performance.now();
  await applier.follow('fn', decision({ prewarm: { atMs: now + 40, untilMs: now + 80, workers: 3 } }));
  assert.equal(runtime.sent.length, 0, 'the pre-warm is ahead');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [3], 'opened');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [3, 1], 'closed');
  assert.deepEqual(applier.current('fn'), { min: 1, max: 8, keepAliveMs: 60_000, spare: 0 });
  assert.deepEqual(failures, []);
  applier.close();
});

test('applier: a new decision does not close a pre-warm window that is open', async () => {
  const runtime = fakeRuntime();
  const applier = new PoolApplier({ patch: runtime.patch, now: () => performance.now(), failed: () => undefined });
  applier.inForce('fn', { min: 0, max: 8, keepAliveMs: 0, spare: 0 });
  const now = performance.now();
  await applier.follow('fn', decision({ min: 0, keepAliveMs: 0, prewarm: { atMs: now, untilMs: now + 60, workers: 3 } }));
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [3], 'opened');
  await applier.follow('fn', decision({ min: 0, keepAliveMs: 0, prewarm: { atMs: now + 10_000, untilMs: now + 11_000, workers: 2 } }));
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [3], 'the next burst\'s pre-warm leaves this one open');
  await new Promise((resolve) => setTimeout(resolve, 90));
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [3, 0], 'closed at its own end');
  applier.close();
});

test('applier: one request at a time per function, and the runtime ends with the latest decision', async () => {
  const runtime = fakeRuntime(20);
  const applier = new PoolApplier({ patch: runtime.patch, now: () => performance.now(), failed: () => undefined });
  applier.inForce('fn', { min: 0, max: 8, keepAliveMs: 0, spare: 0 });
  const sends = [applier.follow('fn', decision({ min: 2 })), applier.follow('fn', decision({ min: 3 })), applier.follow('fn', decision({ min: 4 }))];
  await Promise.all(sends);
  assert.deepEqual(runtime.sent.map((pool) => pool.min), [2, 4]);
  assert.equal(applier.current('fn')!.min, 4);
  applier.close();
});

test.run();
