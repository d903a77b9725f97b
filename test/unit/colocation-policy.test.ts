// When the runtime and its workers are held on one CPU and when they get the host's back:
// the decision alone, from ticks of measured load.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import {
  COLOCATE_WINDOW_TICKS,
  COLOCATION_TICK_MS,
  ColocationPolicy,
  HOLD_AFTER_RELEASE_MS,
  MAX_COLOCATED_WORKERS,
  MAX_HOLD_MS,
  RELEASE_WINDOW_TICKS,
  type ColocationChange,
  type ColocationTick,
} from '../../runtime/supervisor/colocation-policy.js';

/** Feeds ticks every COLOCATION_TICK_MS from `fromMs`; returns the changes, with the time of each. */
function run(policy: ColocationPolicy, fromMs: number, ticks: Omit<ColocationTick, 'nowMs'>[]): { atMs: number; change: ColocationChange }[] {
  const changes: { atMs: number; change: ColocationChange }[] = [];
  ticks.forEach((tick, index) => {
    const nowMs = fromMs + index * COLOCATION_TICK_MS;
    const change = policy.observe({ ...tick, nowMs });
    if (change !== undefined) changes.push({ atMs: nowMs, change });
  });
  return changes;
}

const spread = (loadCpus: number, workers = 1): Omit<ColocationTick, 'nowMs'> => ({ loadCpus, sharedCpuBusy: undefined, workers });
const held = (sharedCpuBusy: number, workers = 1): Omit<ColocationTick, 'nowMs'> => ({ loadCpus: sharedCpuBusy, sharedCpuBusy, workers });
const times = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

test('a light load is co-located after a second of ticks, not before', () => {
  const policy = new ColocationPolicy();
  const changes = run(policy, 0, times(COLOCATE_WINDOW_TICKS + 2, spread(0.6)));
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.change.to, 'colocated');
  assert.equal(changes[0]!.atMs, (COLOCATE_WINDOW_TICKS - 1) * COLOCATION_TICK_MS, 'on the tick that fills the window');
  assert.match(changes[0]!.change.reason, /took 0\.60 CPUs/);
  assert.equal(policy.colocated, true);
});

test('a load of a CPU or more, no worker, or too many workers is not co-located', () => {
  for (const ticks of [times(20, spread(1.0)), times(20, spread(0.1, 0)), times(20, spread(0.1, MAX_COLOCATED_WORKERS + 1))]) {
    const policy = new ColocationPolicy();
    assert.deepEqual(run(policy, 0, ticks), []);
    assert.equal(policy.colocated, false);
  }
});

test('a busy shared CPU gives the CPUs back, judged on the mean of the last ticks, not one', () => {
  const policy = new ColocationPolicy();
  run(policy, 0, times(COLOCATE_WINDOW_TICKS, spread(0.3)));
  assert.equal(policy.colocated, true);
  // One full tick among quiet ones (the pinning's own moment) is not enough.
  assert.deepEqual(run(policy, 10_000, [held(1.0), held(0.6), held(0.6), held(0.7), held(0.6)]), []);
  const changes = run(policy, 20_000, times(RELEASE_WINDOW_TICKS, held(0.95)));
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.change.to, 'spread');
  assert.equal(changes[0]!.atMs, 20_000 + (RELEASE_WINDOW_TICKS - 1) * COLOCATION_TICK_MS);
  assert.match(changes[0]!.change.reason, /busy 95%/);
});

test('after a release for load it waits before co-locating again, longer each time a co-location ends soon', () => {
  const policy = new ColocationPolicy();
  run(policy, 0, times(COLOCATE_WINDOW_TICKS, spread(0.3)));
  // Co-located at 800 ms; released at 60 s: it lasted longer than the hold, so the hold is the base one.
  const first = run(policy, 60_000, times(RELEASE_WINDOW_TICKS, held(1.0)));
  const releasedAt = first[0]!.atMs;
  const quiet = (fromMs: number, ms: number): { atMs: number; change: ColocationChange }[] => run(policy, fromMs, times(ms / COLOCATION_TICK_MS, spread(0.2)));
  const again = quiet(releasedAt + COLOCATION_TICK_MS, HOLD_AFTER_RELEASE_MS + 2000);
  assert.equal(again.length, 1);
  assert.ok(again[0]!.atMs >= releasedAt + HOLD_AFTER_RELEASE_MS, `co-located again ${again[0]!.atMs - releasedAt} ms after the release`);
  // This one ends at once: the next hold is twice as long.
  const second = run(policy, again[0]!.atMs + COLOCATION_TICK_MS, times(RELEASE_WINDOW_TICKS, held(1.0)));
  const third = quiet(second[0]!.atMs + COLOCATION_TICK_MS, 3 * HOLD_AFTER_RELEASE_MS);
  assert.ok(third[0]!.atMs >= second[0]!.atMs + 2 * HOLD_AFTER_RELEASE_MS, `co-located again ${third[0]!.atMs - second[0]!.atMs} ms after the second release`);
  assert.ok(2 * HOLD_AFTER_RELEASE_MS <= MAX_HOLD_MS);
});

test('the last worker gone ends co-location without a hold', () => {
  const policy = new ColocationPolicy();
  run(policy, 0, times(COLOCATE_WINDOW_TICKS, spread(0.3)));
  const gone = run(policy, 5000, [held(0.1, 0)]);
  assert.equal(gone[0]!.change.to, 'spread');
  assert.match(gone[0]!.change.reason, /no worker is live/);
  const back = run(policy, 5200, times(COLOCATE_WINDOW_TICKS, spread(0.3)));
  assert.equal(back[0]!.atMs, 5200 + (COLOCATE_WINDOW_TICKS - 1) * COLOCATION_TICK_MS, 'at once once a worker is back');
});

test.run();
