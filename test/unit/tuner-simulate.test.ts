// The discrete-event simulator: pool mechanics on a tiny trace whose outcome is worked out by
// hand, then the two shared Azure traces replayed under all four policies, with the table
// printed and only the relations that must hold asserted.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { alwaysColdPolicy } from '../../agent/tuner/policies/always-cold.js';
import { FixedKeepAlivePolicy } from '../../agent/tuner/policies/fixed-keepalive.js';
import { HearthPolicy } from '../../agent/tuner/policies/hearth.js';
import { HybridHistogramPolicy } from '../../agent/tuner/policies/hybrid-histogram.js';
import type { PoolDecision, PoolPolicy } from '../../agent/tuner/policies/policy.js';
import { formatResults } from '../../agent/tuner/results-table.js';
import { simulate, type SimulationOptions, type SimulationResult } from '../../agent/tuner/simulate.js';
import { readTrace, type Trace } from '../../agent/tuner/trace.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
/** Samples of the Azure Functions 2019 trace, kept with the tests; HEARTH_TRACES points elsewhere. */
const TRACES = process.env['HEARTH_TRACES'] ?? path.join(ROOT, 'test/fixtures/traces');

/** One function, one invocation in minutes 1, 2 and 4, each 10 ms; 1000 MB workers. */
const TINY: Trace = {
  folder: 'tiny',
  minutes: 4,
  functions: [
    {
      id: 'tiny',
      app: 'app',
      owner: 'owner',
      perMinute: Uint32Array.from([1, 1, 0, 1]),
      invocations: 3,
      durations: { averageMs: 10, count: 3, percentilesMs: [10, 10, 10, 10, 10, 10, 10] },
      memoryMb: 1000,
    },
  ],
};
/** Real time, arrivals at the middle of their minute (30 s, 90 s, 210 s), 5 ms cold starts. */
const TINY_OPTIONS: SimulationOptions = { seed: 1, compression: 1, spread: 'even', coldStartMs: { exec: 5 } };

/** A policy that always answers the same decision. */
function constant(settings: Pick<PoolDecision, 'min' | 'keepAliveMs' | 'spare' | 'prewarm'>): PoolPolicy {
  return {
    name: 'constant',
    observe: () => {},
    decide: (fn, now) => ({ function: fn, policy: 'constant', at: now, max: 8, reason: 'test', inputs: {}, ...settings }),
  };
}

test('keep-alive: a worker idle longer than its keep-alive retires, and the next request starts cold', () => {
  const result = simulate(TINY, new FixedKeepAlivePolicy({ keepAliveMs: 90_000 }), TINY_OPTIONS);
  assert.deepEqual([result.invocations, result.coldStarts, result.queued, result.spawns, result.decisions], [3, 2, 0, 2, 1]);
  // Idle 30.015 → 90 s, 90.010 → 180.010 s (retired), then 210.015 s → the end of the trace at 240 s.
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * (59.985 + 90 + 29.985)) < 1e-6, String(result.idleMbSeconds));
  // Cold: 5 ms start + 10 ms; warm: 10 ms.
  assert.ok(Math.abs(result.p99Ms - 15) < 0.2 && Math.abs(result.p50Ms - 15) < 0.2, `${result.p50Ms} ${result.p99Ms}`);
});

test('always cold: every request starts its own worker and nothing is held idle', () => {
  const result = simulate(TINY, alwaysColdPolicy(), TINY_OPTIONS);
  assert.deepEqual([result.coldStarts, result.idleMbSeconds], [3, 0]);
});

test('idle at the start: a worker idle before the start serves the first request warm and counts only from 0', () => {
  // Idle since -20 s; a keep-alive of 60 s holds it to the arrival at 30 s, and on to 90 s.
  const kept = simulate(TINY, new FixedKeepAlivePolicy({ keepAliveMs: 60_000 }), { ...TINY_OPTIONS, idleAtStart: new Map([['tiny', [-20_000]]]) });
  assert.deepEqual([kept.coldStarts, kept.spawns], [1, 1]);
  // Idle 0 → 30 s, 30.010 → 90 s, 90.010 → 150.010 s (retired), then the cold 210 s worker from 210.015 s to the end.
  assert.ok(Math.abs(kept.idleMbSeconds - 1000 * (30 + 59.99 + 60 + 29.985)) < 1e-6, String(kept.idleMbSeconds));
  // A keep-alive of 10 s retires it at the first decision, since it has been idle 20 s.
  const retired = simulate(TINY, new FixedKeepAlivePolicy({ keepAliveMs: 10_000 }), { ...TINY_OPTIONS, idleAtStart: new Map([['tiny', [-20_000]]]) });
  assert.deepEqual([retired.coldStarts, retired.spawns], [3, 3]);
});

test('stop time: a retired worker holds its memory while it stops', () => {
  const result = simulate(TINY, alwaysColdPolicy(), { ...TINY_OPTIONS, stopMs: 12 });
  assert.equal(result.coldStarts, 3);
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * 3 * 0.012) < 1e-6, String(result.idleMbSeconds));
  // Kept past the end of the trace: no stop counted.
  const kept = simulate(TINY, new FixedKeepAlivePolicy({ keepAliveMs: 90_000 }), { ...TINY_OPTIONS, stopMs: 12 });
  assert.ok(Math.abs(kept.idleMbSeconds - 1000 * (59.985 + 90.012 + 29.985)) < 1e-6, String(kept.idleMbSeconds));
});

test('pre-warm: a worker made ready just before the arrival serves it warm, and is held only until used', () => {
  const result = simulate(TINY, constant({ min: 0, keepAliveMs: 0, prewarm: { atMs: 89_000, untilMs: 95_000, workers: 1 } }), TINY_OPTIONS);
  assert.equal(result.coldStarts, 2);
  // Ready at 89.005 s, used at 90 s, released at once after (keep-alive 0).
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * 0.995) < 1e-6, String(result.idleMbSeconds));
});

test('pre-warm already open: it holds the idle worker that a shorter keep-alive in the same decision would retire', () => {
  // Until the tick at 60 s: keep-alive 1000 s. From then: keep-alive 0 with a window open since 60 s.
  const policy: PoolPolicy = {
    name: 'switching',
    observe: () => {},
    decide: (fn, now) => ({ function: fn, policy: 'switching', at: now, max: 8, reason: 'test', inputs: {}, min: 0, ...(now < 60_000 ? { keepAliveMs: 1_000_000 } : { keepAliveMs: 0, prewarm: { atMs: 60_000, untilMs: 200_000, workers: 1 } }) }),
  };
  const result = simulate(TINY, policy, TINY_OPTIONS);
  // The first worker serves 30 s and 90 s; only 210 s starts another.
  assert.deepEqual([result.coldStarts, result.spawns], [2, 2]);
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * 59.985) < 1e-6, String(result.idleMbSeconds));
});

test('priced profiles: the policy is told them when they came, requests wait the pool\'s own start', () => {
  const told: string[] = [];
  const cold = alwaysColdPolicy();
  const policy: PoolPolicy = { name: cold.name, observe: (event) => void (event.kind === 'profile' && told.push(`${event.at}: ${event.profile.coldStartMs['ready']} ms, ${event.profile.memoryMb} MB`)), decide: (fn, now) => cold.decide(fn, now) };
  const profiles = [
    { atMs: -500, coldStartMs: { ready: 9 }, memoryMb: 100 },
    { atMs: -100, coldStartMs: { ready: 7 }, memoryMb: 120 },
    { atMs: 60_000, coldStartMs: { ready: 5 }, memoryMb: 110 },
  ];
  const result = simulate(TINY, policy, { ...TINY_OPTIONS, coldStartMs: { ready: 40 }, pricedProfiles: new Map([['tiny', profiles]]) });
  // The latest one before the start, then the later one at its moment.
  assert.deepEqual(told, ['0: 7 ms, 120 MB', '60000: 5 ms, 110 MB']);
  assert.ok(Math.abs(result.p50Ms - 50) < 0.5, `a cold request waits the pool's 40 ms start, then runs 10 ms: ${result.p50Ms}`);
});

test('min: workers are started at once and kept whatever the keep-alive', () => {
  const result = simulate(TINY, constant({ min: 2, keepAliveMs: 0 }), TINY_OPTIONS);
  assert.deepEqual([result.coldStarts, result.spawns], [0, 2]);
  // Two workers idle from 5 ms to 240 s, less the three 10 ms invocations.
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * (2 * 239.995 - 0.03)) < 1e-6, String(result.idleMbSeconds));
});

test('spare: a worker is kept idle beyond those running, its replacement started as a request takes it; no request starts cold', () => {
  const result = simulate(TINY, constant({ min: 0, keepAliveMs: 0, spare: 1 }), TINY_OPTIONS);
  // One started at once, one more as each of the three requests takes the idle one; a worker freed beyond the spare retires (keep-alive 0).
  assert.deepEqual([result.coldStarts, result.queued, result.spawns], [0, 0, 4]);
  // Always one idle but for the 5 ms each start takes: 0.005 → 30, 30.005 → 90, 90.005 → 210, 210.005 → 240 s.
  assert.ok(Math.abs(result.idleMbSeconds - 1000 * (29.995 + 59.995 + 119.995 + 29.995)) < 1e-6, String(result.idleMbSeconds));
});

/** Node stem-cell cold start measured by the agent (README): state 7.07 + ready 2.64 + first response 2.40 ms. */
const NODE_COLD_START = { state_mapped: 7.07, ready: 2.64, first_response: 2.4 };
const COMPRESSION = 60;
const SEED = 42;

function replay(folder: string, rateScale: number): SimulationResult[] {
  const trace = readTrace(path.join(TRACES, folder));
  const options: SimulationOptions = { seed: SEED, compression: COMPRESSION, rateScale, coldStartMs: NODE_COLD_START };
  const policies = [alwaysColdPolicy(), new FixedKeepAlivePolicy({ compression: COMPRESSION }), new HybridHistogramPolicy({ compression: COMPRESSION }), new HearthPolicy({ compression: COMPRESSION })];
  const results = policies.map((policy) => simulate(trace, policy, options));
  const scale = rateScale === 1 ? '' : `, arrivals thinned to ${rateScale * 100}%`;
  console.log(`\n${folder}: compression ${COMPRESSION} (a trace minute in a second), seed ${SEED}, 12.1 ms cold starts${scale}; latency in replay ms, idle GB·s of replay time\n${formatResults(results)}\n`);
  return results;
}

/** Relations that hold whatever the numbers: always-cold is the worst on cold starts and holds nothing; keep-alive helps; hearth is not dominated. */
function assertRelations([cold, fixed, hybrid, hearth]: SimulationResult[]): void {
  for (const result of [fixed, hybrid, hearth]) {
    assert.equal(result!.invocations, cold!.invocations);
    assert.ok(cold!.coldStarts > result!.coldStarts, `${result!.policy} has fewer cold starts than always-cold`);
  }
  assert.equal(cold!.idleMbSeconds, 0);
  assert.ok(fixed!.coldStarts < cold!.coldStarts);
  const fewerColds = hearth!.coldStarts < fixed!.coldStarts && hearth!.idleMbSeconds <= 1.1 * fixed!.idleMbSeconds;
  const lessMemory = hearth!.idleMbSeconds < fixed!.idleMbSeconds && hearth!.coldStarts <= 1.1 * fixed!.coldStarts;
  assert.ok(fewerColds || lessMemory, `hearth (${hearth!.coldStarts} cold, ${hearth!.idleMbSeconds} MB·s) against fixed keep-alive (${fixed!.coldStarts}, ${fixed!.idleMbSeconds})`);
}

test('replay azure2019-sample20 under all four policies', () => {
  assertRelations(replay('azure2019-sample20', 1));
});

test('replay azure2019-busy10 (a tenth of its 13 million arrivals) under all four policies', () => {
  assertRelations(replay('azure2019-busy10', 0.1));
});

test.run();
