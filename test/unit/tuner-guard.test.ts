// The decision guard on its own: hysteresis on min and keep-alive, HPA-style scale-down,
// and rollback with a back-off that doubles when regressions follow each other.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { DecisionGuard, type GuardOptions } from '../../agent/tuner/policies/guard.js';

const OPTIONS: GuardOptions = { minTolerance: 0.1, keepAliveTolerance: 0.25, scaleDownAfterMs: 60_000, backoffMs: 1_000_000, maxBackoffMs: 3_000_000 };
const KEEP = 600_000;

function settled(guard: DecisionGuard, min: number, at: number, keepAliveMs = KEEP): string {
  const { settings } = guard.settle({ min, keepAliveMs, spare: 0 }, at);
  return `${settings.min}/${settings.keepAliveMs}`;
}

/** Targets fed in order to a fresh guard, each [time, min target, keep-alive target], and what the guard settles on after each. */
function sequence(steps: [number, number, number][]): string[] {
  const guard = new DecisionGuard(OPTIONS);
  return steps.map(([at, min, keepAliveMs]) => settled(guard, min, at, keepAliveMs));
}

test('min: ±1 on 10 is ignored, a real rise is taken at once, a fall waits for the scale-down window', () => {
  assert.deepEqual(sequence([[0, 10, KEEP], [1, 11, KEEP], [2, 9, KEEP], [3, 12, KEEP], [4, 0, KEEP]]), ['10', '10', '10', '12', '12'].map((min) => `${min}/${KEEP}`));
});

test('min: falls to the highest target of the scale-down window once all of it is lower; one worker more than none always counts', () => {
  const targets: [number, number, number][] = [[0, 20, KEEP], [10_000, 5, KEEP], [30_000, 8, KEEP], [59_000, 3, KEEP], [61_000, 3, KEEP], [200_000, 0, KEEP], [200_001, 1, KEEP]];
  assert.deepEqual(sequence(targets), ['20', '20', '20', '20', '8', '0', '1'].map((min) => `${min}/${KEEP}`));
});

test('keep-alive: changes past 25%, and always to or from zero', () => {
  const targets: [number, number, number][] = [[0, 0, KEEP], [1, 0, KEEP * 1.2], [2, 0, KEEP * 0.8], [3, 0, KEEP * 1.5], [4, 0, 0], [5, 0, 1]];
  assert.deepEqual(sequence(targets), [KEEP, KEEP, KEEP, KEEP * 1.5, 0, 1].map((keepAliveMs) => `0/${keepAliveMs}`));
});

test('rollback: back to the settings before the last change, frozen for the back-off, which doubles on a repeat', () => {
  const guard = new DecisionGuard(OPTIONS);
  settled(guard, 2, 0);
  settled(guard, 8, 1000);
  guard.rollback(2000, 'p99 up 30%');
  const frozen = guard.settle({ min: 50, keepAliveMs: 1, spare: 0 }, 2000);
  assert.deepEqual(frozen.settings, { min: 2, keepAliveMs: KEEP, spare: 0 });
  assert.match(frozen.frozen!, /^regression: p99 up 30%; rolled back, held until 16\.7 min from now$/);
  assert.equal(settled(guard, 50, 1_002_001, 1), `50/1`, 'changes resume after the back-off');
  // A second regression within twice the back-off: undone again, and held twice as long.
  guard.rollback(1_100_000, 'errors');
  assert.equal(settled(guard, 70, 1_100_000 + 1_999_999), `2/${KEEP}`);
  assert.equal(settled(guard, 70, 1_100_000 + 2_000_001), `70/${KEEP}`);
  // Long after: the back-off starts from its initial length again.
  guard.rollback(20_000_000, 'p99 again');
  assert.equal(guard.settle({ min: 1, keepAliveMs: KEEP, spare: 0 }, 20_000_000 + 1_000_001).frozen, undefined);
});

test('spare: follows its target at once, and a rollback takes it back with the rest', () => {
  const guard = new DecisionGuard(OPTIONS);
  const spares = [0, 1, 2, 1].map((spare, i) => guard.settle({ min: 1, keepAliveMs: KEEP, spare }, i * 1000).settings.spare);
  assert.deepEqual(spares, [0, 1, 2, 1]);
  guard.rollback(5000, 'p99 up 30%');
  assert.deepEqual(guard.settle({ min: 1, keepAliveMs: KEEP, spare: 3 }, 6000).settings, { min: 1, keepAliveMs: KEEP, spare: 2 });
});

test.run();
