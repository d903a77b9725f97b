// Pool policies on synthetic traffic whose right answer is known: a 5-minute timer, a rare
// function, a burst, steady load, small fluctuations, and a rollback. Times are ms on the
// policy's clock (compression 1: real time, as in the live runtime).
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { alwaysColdPolicy } from '../../agent/tuner/policies/always-cold.js';
import { FixedKeepAlivePolicy } from '../../agent/tuner/policies/fixed-keepalive.js';
import { HearthPolicy } from '../../agent/tuner/policies/hearth.js';
import { HybridHistogramPolicy } from '../../agent/tuner/policies/hybrid-histogram.js';
import type { FunctionProfile, PoolDecision, PoolEvent, PoolPolicy } from '../../agent/tuner/policies/policy.js';
import { seededRandom } from '../../agent/tuner/random.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const FN = 'fn';

/** A worker of 2 GB starting in 10 ms: with hearth's default prices a cold start is worth 10 minutes of it idle. */
const PROFILE: FunctionProfile = { coldStartMs: { exec: 2, runtime_init: 3, ready: 5 }, memoryMb: 2048, maxWorkers: 1024 };

interface Drive {
  /** Every decision that differed from the one before, in order. */
  changes: PoolDecision[];
  last: PoolDecision;
  /** The decision in force right after the invocation that started at each arrival ended. */
  afterEnd: Map<number, PoolDecision>;
}

/**
 * Feeds a policy the arrivals (each running `durationMs`, as if a worker were always free)
 * and their ends in time order, asks for a decision after each event and every `tickMs`,
 * and reports the decisions, as the simulator and the runtime wiring do.
 */
function drive(policy: PoolPolicy, arrivals: readonly number[], durationMs: number, { profile = PROFILE, until = 0, tickMs = MINUTE } = {}): Drive {
  type Step = { at: number; event?: PoolEvent; arrival?: number };
  const steps: Step[] = [];
  for (const at of arrivals) {
    steps.push({ at, event: { kind: 'arrival', function: FN, at } });
    steps.push({ at: at + durationMs, event: { kind: 'end', function: FN, at: at + durationMs, durationMs, cold: false }, arrival: at });
  }
  const end = Math.max(until, ...steps.map((step) => step.at));
  for (let at = tickMs; at <= end; at += tickMs) steps.push({ at });
  steps.sort((a, b) => a.at - b.at || (a.event === undefined ? 1 : 0) - (b.event === undefined ? 1 : 0));
  policy.observe({ kind: 'profile', function: FN, at: 0, profile });
  const changes: PoolDecision[] = [];
  const afterEnd = new Map<number, PoolDecision>();
  let last = policy.decide(FN, 0);
  changes.push(last);
  for (const step of steps) {
    if (step.event !== undefined) policy.observe(step.event);
    const decision = policy.decide(FN, step.at);
    if (decision.min !== last.min || decision.keepAliveMs !== last.keepAliveMs || decision.spare !== last.spare || decision.prewarm?.atMs !== last.prewarm?.atMs) changes.push(decision);
    last = decision;
    if (step.arrival !== undefined) afterEnd.set(step.arrival, decision);
  }
  return { changes, last, afterEnd };
}

/** `count` arrivals `periodMs` apart, each moved by up to ±`jitterMs` (seeded). */
function every(periodMs: number, count: number, jitterMs = 0, seed = 1): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => jitterMs + i * periodMs + (random() * 2 - 1) * jitterMs);
}

function near(actual: number, expected: number, message?: string): void {
  assert.ok(Math.abs(actual - expected) < 1, message ?? `${actual} is not ${expected}`);
}

function poisson(perSecond: number, fromMs: number, toMs: number, seed = 1): number[] {
  const random = seededRandom(seed);
  const arrivals: number[] = [];
  for (let at = fromMs - Math.log(1 - random()) * (SECOND / perSecond); at < toMs; at += -Math.log(1 - random()) * (SECOND / perSecond)) arrivals.push(at);
  return arrivals;
}

test('always-cold keeps nothing; fixed keep-alive keeps each worker 10 minutes (scaled by the compression)', () => {
  const cold = drive(alwaysColdPolicy(), every(5 * MINUTE, 5), SECOND).last;
  assert.deepEqual([cold.min, cold.keepAliveMs, cold.prewarm], [0, 0, undefined]);
  assert.equal(drive(new FixedKeepAlivePolicy(), every(5 * MINUTE, 5), SECOND).last.keepAliveMs, 10 * MINUTE);
  const compressed = new FixedKeepAlivePolicy({ compression: 60 });
  assert.equal(compressed.decide(FN, 0).keepAliveMs, 10 * SECOND, 'ten trace minutes replay in ten seconds');
  assert.equal(compressed.name, 'fixed-keepalive-10min');
});

test('hybrid histogram, timer every 5 minutes: pre-warms near 5 minutes after use and keeps alive briefly', () => {
  const arrivals = every(5 * MINUTE, 24);
  const run = drive(new HybridHistogramPolicy(), arrivals, SECOND);
  const lastArrival = arrivals[arrivals.length - 1]!;
  const decision = run.afterEnd.get(lastArrival)!;
  const idleStart = lastArrival + SECOND;
  assert.equal(decision.keepAliveMs, 0, 'released right after use');
  assert.ok(decision.prewarm !== undefined, decision.reason);
  // Idle times of 4 min 59 s fall in bin 4: pre-warm 4 × 0.9 = 3.6 min, keep until 5 × 1.1 = 5.5 min.
  near(decision.prewarm.atMs - idleStart, 3.6 * MINUTE);
  near(decision.prewarm.untilMs - idleStart, 5.5 * MINUTE);
  assert.ok(decision.prewarm.untilMs - decision.prewarm.atMs < 2 * MINUTE, 'alive for under two minutes of each five');
  assert.match(decision.reason, /5th percentile in bin 4, 99th in bin 4/);
});

test('hybrid histogram: uncertain pattern keeps alive the full 4 hours; mostly out-of-bounds idle times use the predictor', () => {
  const uncertain = drive(new HybridHistogramPolicy(), [0], SECOND).last;
  assert.equal(uncertain.keepAliveMs, 4 * 60 * MINUTE);
  assert.match(uncertain.reason, /uncertain/);
  // Idle times of about 6 hours: all out of the 4-hour range; the median of the last five predicts the next.
  const arrivals = every(6 * 60 * MINUTE, 6);
  const decision = drive(new HybridHistogramPolicy(), arrivals, SECOND).afterEnd.get(arrivals[5]!)!;
  const predicted = 6 * 60 * MINUTE - SECOND;
  near(decision.prewarm!.atMs - (arrivals[5]! + SECOND), 0.85 * predicted);
  near(decision.prewarm!.untilMs - (arrivals[5]! + SECOND), 1.15 * predicted);
  assert.match(decision.reason, /exceed the 4 h histogram/);
});

test('hybrid histogram scales its windows by the compression factor', () => {
  const arrivals = every(5 * SECOND, 24);
  const decision = drive(new HybridHistogramPolicy({ compression: 60 }), arrivals, SECOND / 60, { tickMs: SECOND }).afterEnd.get(arrivals[23]!)!;
  near(decision.prewarm!.atMs - (arrivals[23]! + SECOND / 60), 3.6 * SECOND);
});

test('hearth, timer every 5 minutes: detects the period and pre-warms just before it instead of keeping alive', () => {
  const arrivals = every(5 * MINUTE, 24);
  const decision = drive(new HearthPolicy(), arrivals, SECOND).afterEnd.get(arrivals[23]!)!;
  const next = arrivals[23]! + 5 * MINUTE;
  assert.ok(decision.prewarm !== undefined, decision.reason);
  assert.ok(decision.prewarm.atMs < next && decision.prewarm.atMs > next - 10 * SECOND, `pre-warm at ${(next - decision.prewarm.atMs) / SECOND} s before the next run`);
  assert.ok(decision.prewarm.untilMs > next && decision.prewarm.untilMs - decision.prewarm.atMs < 15 * SECOND, 'held for seconds, not minutes');
  assert.ok(decision.keepAliveMs < MINUTE, `keep-alive ${decision.keepAliveMs} ms`);
  assert.equal(decision.min, 0);
  assert.match(decision.reason, /periodic every 5 min/);
  assert.equal(decision.inputs['periodMs'], 5 * MINUTE);
});

test('hearth, bursts that ramp up over a minute: at a burst\'s first arrival it starts the workers the ramp will need', () => {
  // Every 10 minutes (± 5 s), 20 requests spread over a minute, each running 2 minutes: 20 in flight at the peak.
  const random = seededRandom(11);
  const starts = every(10 * MINUTE, 8, 5 * SECOND, 4);
  const arrivals = starts.flatMap((start) => Array.from({ length: 20 }, (_, i) => start + i * 3 * SECOND + random() * SECOND));
  const run = drive(new HearthPolicy(), arrivals, 2 * MINUTE);
  const burstStart = arrivals[7 * 20]!;
  const atOnset = run.changes.find((decision) => decision.at === burstStart);
  assert.ok(atOnset?.prewarm !== undefined, atOnset?.reason ?? 'no decision at the last burst\'s first arrival');
  assert.equal(atOnset.prewarm.atMs, burstStart, 'from the burst\'s first arrival');
  assert.ok(atOnset.prewarm.workers >= 15 && atOnset.prewarm.workers <= 21, `${atOnset.prewarm.workers} workers for a peak of 20`);
  const heldS = (atOnset.prewarm.untilMs - atOnset.prewarm.atMs) / SECOND;
  assert.ok(heldS > 50 && heldS < 70, `held ${heldS} s over a ramp of about 58 s`);
  assert.match(atOnset.reason, /burst under way: \d+ workers held/);
  // Once the ramp is over, the decision turns to the next burst.
  const after = run.changes.find((decision) => decision.at > burstStart + 70 * SECOND);
  assert.ok(after?.prewarm === undefined || after.prewarm.atMs > burstStart + 9 * MINUTE, after?.reason);
});

test('hearth, rare function with expensive memory: pre-warms shortly before the predicted arrival rather than keeping alive', () => {
  // About every 30 minutes (± 1 minute); 8 GB workers: a cold start is worth 2.5 minutes of one idle.
  const arrivals = every(30 * MINUTE, 16, MINUTE, 7);
  const profile = { ...PROFILE, memoryMb: 8192 };
  const last = arrivals[15]!;
  const decision = drive(new HearthPolicy(), arrivals, SECOND, { profile }).afterEnd.get(last)!;
  assert.ok(decision.keepAliveMs < MINUTE, `keep-alive ${decision.keepAliveMs / MINUTE} min: ${decision.reason}`);
  assert.ok(decision.prewarm !== undefined, decision.reason);
  assert.ok(decision.prewarm.atMs - last > 27 * MINUTE && decision.prewarm.atMs - last < 30 * MINUTE, `pre-warm ${(decision.prewarm.atMs - last) / MINUTE} min after`);
  assert.ok(decision.prewarm.untilMs - decision.prewarm.atMs < 5 * MINUTE);
  assert.equal(decision.min, 0);
});

test('hearth, unpredictable arrivals and cheap memory: keeps a worker instead of guessing', () => {
  // Poisson arrivals, 3 minutes apart on average; 256 MB workers: a cold start is worth 80 minutes of one idle.
  const arrivals = poisson(1 / 180, 0, 6 * 60 * MINUTE, 3);
  const decision = drive(new HearthPolicy(), arrivals, SECOND, { profile: { ...PROFILE, memoryMb: 256 } }).last;
  assert.equal(decision.prewarm, undefined, decision.reason);
  assert.ok(decision.min >= 1 || decision.keepAliveMs >= 10 * MINUTE, decision.reason);
});

test('hearth, burst: min rises with the burst and falls after it', () => {
  const quiet = every(MINUTE, 15);
  const burst = poisson(200, 15 * MINUTE, 15 * MINUTE + 30 * SECOND, 5);
  const run = drive(new HearthPolicy(), [...quiet, ...burst], 2 * SECOND, { until: 20 * MINUTE, tickMs: SECOND });
  const during = run.changes.filter((decision) => decision.at >= 15 * MINUTE && decision.at < 15 * MINUTE + 30 * SECOND);
  const before = run.changes.filter((decision) => decision.at < 15 * MINUTE);
  assert.ok(Math.max(...before.map((decision) => decision.min)) <= 1);
  const peak = Math.max(...during.map((decision) => decision.min));
  // 200/s for 2 s each: 400 in flight at the peak.
  assert.ok(peak >= 300, `min peaked at ${peak}`);
  assert.match(during.find((decision) => decision.min === peak)!.reason, /burst of/);
  assert.ok(run.last.min < peak / 10, `min back to ${run.last.min} after the burst`);
});

test('hearth, steady load: min ≈ arrival rate × duration (Little\'s law)', () => {
  // 20/s × 500 ms = 10 busy on average.
  const decision = drive(new HearthPolicy(), poisson(20, 0, 20 * MINUTE, 11), 500, { tickMs: SECOND }).last;
  assert.ok(Math.abs(decision.min - 10) <= 2, `min ${decision.min}: ${decision.reason}`);
  assert.match(decision.reason, /Little's law: (19|20|21)(\.\d+)?\/s × 500 ms = (9|10|11)/);
  assert.equal(decision.prewarm, undefined);
});

/** A worker of 20 GB starting in 100 ms: a cold start is worth 10 minutes of it idle, and at 10/s arrivals often crowd into one. */
const SLOW_START: FunctionProfile = { coldStartMs: { ready: 100 }, memoryMb: 20 * 1024, maxWorkers: 1024 };

/** Workers in force above `min`'s steady share: kept for good (min) and spares; and when the last of them went after the load stopped. */
function lightLoad(profile: FunctionProfile): { decision: PoolDecision; releasedAt: number | undefined; dear: PoolDecision } {
  // 10/s × 88 ms: 0.88 in flight on average, a second worker busy 22% of the time, a fourth about 1%.
  const arrivals = poisson(10, 0, 30 * MINUTE, 5);
  const run = drive(new HearthPolicy(), arrivals, 88, { tickMs: SECOND, until: 50 * MINUTE, profile });
  const decision = run.changes.filter((change) => change.at <= 30 * MINUTE).at(-1)!;
  const releasedAt = run.changes.find((change) => change.at > 30 * MINUTE && change.min === 0 && (change.spare ?? 0) === 0)?.at;
  // Workers 64 times dearer: a cold start is worth 9.4 s of one idle.
  const dear = drive(new HearthPolicy(), arrivals, 88, { tickMs: SECOND, profile: { ...profile, memoryMb: 64 * profile.memoryMb } }).last;
  return { decision, releasedAt, dear };
}

test('hearth, light steady load: spare workers above the concurrency it holds, when arrivals rarely crowd a cold start; let go once the load stops', () => {
  const { decision, releasedAt, dear } = lightLoad(PROFILE);
  assert.ok(decision.min >= 1 && decision.spare! >= 2, `min ${decision.min}, spare ${decision.spare}: ${decision.reason}`);
  assert.match(decision.reason, /spare \d+: \d+ idle workers kept beyond those running, another started as one is taken, serves warm (9\d(\.\d+)?|100)% of/);
  // A cold start (10 ms) is worth 10 minutes of one idle 2 GB worker: idle that long, the spares go.
  assert.ok(releasedAt !== undefined && releasedAt <= 43 * MINUTE, `released at ${releasedAt}`);
  assert.ok(dear.min + dear.spare! < decision.min + decision.spare!, `min ${dear.min} + spare ${dear.spare} for dear workers: ${dear.reason}`);
});

test('hearth, light steady load whose arrivals crowd a slow start: keeps for good the workers whose idle gaps are short on average, and lets them go once the load stops', () => {
  const { decision, releasedAt, dear } = lightLoad(SLOW_START);
  assert.ok(decision.min >= 3, `min ${decision.min}: ${decision.reason}`);
  assert.match(decision.reason, new RegExp(`min ${decision.min}: the ${decision.min} most recently used workers' idle gaps are on average shorter than missing them is worth`));
  assert.ok(releasedAt !== undefined && releasedAt <= 43 * MINUTE, `released at ${releasedAt}`);
  assert.ok(dear.min < decision.min, `min ${dear.min} for dear workers against ${decision.min}: ${dear.reason}`);
});

/** Every 10 minutes, 30 jobs of 2 minutes `spacingMs` apart; the decision in force in the last lull. */
function fanOut(spacingMs: number): PoolDecision {
  const arrivals = Array.from({ length: 18 }, (_, burst) => Array.from({ length: 30 }, (_, job) => burst * 10 * MINUTE + job * spacingMs)).flat();
  const run = drive(new HearthPolicy(), arrivals, 2 * MINUTE, { tickMs: SECOND });
  const lull = run.changes.filter((change) => change.at > 170 * MINUTE - 5 * SECOND && change.at < 170 * MINUTE + 7 * MINUTE);
  return lull.at(-1) ?? run.changes.filter((change) => change.at <= 170 * MINUTE).at(-1)!;
}

test('hearth, fan-out timer faster than a worker starts: pre-warms each burst rather than keeping its workers through the lulls', () => {
  // 30 jobs 1 ms apart, workers start in 10 ms: spares would be outrun. Each worker idles 8 minutes of 10, less than the 10 minutes a cold start is worth here.
  const last = fanOut(1);
  assert.ok(last.min < 30, `min ${last.min} in the last lull: ${last.reason}`);
  assert.ok(last.prewarm !== undefined && last.prewarm.workers >= 25, `pre-warm ${JSON.stringify(last.prewarm)}: ${last.reason}`);
});

test('hearth, fan-out timer slower than a worker starts: one spare serves every job warm, with no pre-warm and no workers kept through the lulls', () => {
  // 30 jobs 100 ms apart, workers start in 10 ms: each job takes the spare and the next is ready before the next job.
  const last = fanOut(100);
  assert.deepEqual([last.min, last.spare, last.prewarm], [0, 1, undefined], last.reason);
  assert.match(last.reason, /spare 1: 1 idle worker kept beyond those running, another started as one is taken, serves warm 100% of/);
});

test('hearth hysteresis: ±5% swings in a steady load change nothing once settled', () => {
  const arrivals = Array.from({ length: 40 }, (_, minute) => poisson(minute % 2 === 0 ? 19 : 21, minute * MINUTE, (minute + 1) * MINUTE, 100 + minute)).flat();
  const run = drive(new HearthPolicy(), arrivals, 500, { tickMs: SECOND });
  const settled = run.changes.filter((decision) => decision.at >= 20 * MINUTE);
  assert.deepEqual(
    settled.map((decision) => `${decision.min}/${decision.keepAliveMs}`),
    [],
    'no change of min or keep-alive in the last 20 minutes',
  );
});

test('hearth rollback: a regression restores the settings before the last change, holds them, then lets changes resume', () => {
  const policy = new HearthPolicy();
  const quiet = every(MINUTE, 15);
  const burst = poisson(200, 15 * MINUTE, 15 * MINUTE + 20 * SECOND, 9);
  const run = drive(policy, [...quiet, ...burst], 2 * SECOND, { until: 15 * MINUTE + 10 * SECOND, tickMs: SECOND });
  const raised = run.last;
  assert.ok(raised.min > 10, `the burst raised min to ${raised.min}`);
  const before = [...run.changes].reverse().find((decision) => decision.min !== raised.min)!;
  const at = 15 * MINUTE + 10 * SECOND;
  policy.observe({ kind: 'regression', function: FN, at, detail: 'p99 latency up 40%' });
  const rolledBack = policy.decide(FN, at);
  assert.equal(rolledBack.min, before.min);
  assert.equal(rolledBack.keepAliveMs, before.keepAliveMs);
  assert.equal(rolledBack.inputs['frozen'], true);
  assert.match(rolledBack.reason, /regression: p99 latency up 40%; rolled back, held until 30 min from now/);
  // The burst goes on, but the settings hold for the back-off (30 minutes by default)...
  for (const arrival of burst.filter((time) => time > at)) policy.observe({ kind: 'arrival', function: FN, at: arrival });
  assert.equal(policy.decide(FN, at + 10 * SECOND).min, before.min);
  assert.equal(policy.decide(FN, at + 29 * MINUTE).min, before.min);
  // ...and afterwards the policy decides again.
  assert.equal(policy.decide(FN, at + 31 * MINUTE).inputs['frozen'], false);
});

test('every hearth decision carries its inputs and a reason', () => {
  const decision = drive(new HearthPolicy(), every(5 * MINUTE, 24), SECOND).last;
  for (const input of ['coldStartMs', 'memoryMb', 'breakEvenMs', 'arrivalsPerSecond', 'keepAliveBasis', 'minTarget']) assert.ok(input in decision.inputs, input);
  assert.equal(decision.inputs['coldStartMs'], 10);
  assert.equal(decision.inputs['breakEvenMs'], 10 * MINUTE);
  assert.match(decision.reason, /^min \d+: .*; keep-alive /);
});

test.run();
