// The GC policies' pure logic: the memory budget, Go's GOGC and GOMEMLIMIT, Node's semi-space
// and old space, and the guard that keeps advice from flapping or repeating a mistake.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import { gcBudget, shareAfter, workReduction } from '../../agent/tuner/gc/budget.js';
import { adviseGo, type GoInputs } from '../../agent/tuner/gc/go-policy.js';
import { GcGuard, type PolicyState } from '../../agent/tuner/gc/guard.js';
import { adviseNode, type NodeInputs } from '../../agent/tuner/gc/node-policy.js';
import { DEFAULT_GC_OPTIONS as OPTIONS } from '../../agent/tuner/gc/options.js';

const CALM: PolicyState = { oomLevel: 0, afterOom: false, mayRaise: true };

/** A Go function like examples/go-recommend: 27 MiB live under a 256 MiB limit, at Go's defaults. */
function go(overrides: Partial<GoInputs> = {}): GoInputs {
  return { memoryLimitMb: 256, recycleMemoryMb: 230, gogc: 100, gcMemoryLimitMb: null, liveHeapMb: 27, rootsMb: 0.2, outsideMb: 2, gcShare: 0.45, shareSource: 'sdk', ...overrides };
}

function node(overrides: Partial<NodeInputs> = {}): NodeInputs {
  return {
    memoryLimitMb: 256,
    recycleMemoryMb: 230,
    semiSpaceMb: 1,
    heapLimitMb: 259,
    oldSpaceFlagMb: null,
    oldUsedMb: 10,
    outsideMb: 5,
    gcShare: 0.4,
    scavengeShare: 0.35,
    shareSource: 'sdk',
    survival: 0.3,
    ...overrides,
  };
}

test('budget: the lower of 90% of the limit and the recycle threshold, less headroom, OOM steps and memory outside the heap', () => {
  assert.deepEqual(gcBudget({ memoryLimitMb: 256, recycleMemoryMb: 0 }, 0, 0, OPTIONS), { ceilingMb: 230.4, budgetMb: 230.4 * 0.95 });
  assert.deepEqual(gcBudget({ memoryLimitMb: 256, recycleMemoryMb: 200 }, 10, 0, OPTIONS), { ceilingMb: 200, budgetMb: 200 * 0.95 - 10 });
  assert.equal(gcBudget({ memoryLimitMb: 256, recycleMemoryMb: 200 }, 0, 2, OPTIONS).budgetMb, 200 * 0.75);
  // However many OOM kills, the budget keeps 30% of the ceiling.
  assert.equal(gcBudget({ memoryLimitMb: 100, recycleMemoryMb: 0 }, 0, 50, OPTIONS).budgetMb, 90 * 0.3);
});

test('cost model: shrinking the GC work by workReduction(s, t) brings share s to t', () => {
  for (const [share, target] of [[0.5, 0.05], [0.2, 0.1], [0.9, 0.02]] as const) {
    assert.ok(Math.abs(shareAfter(share, workReduction(share, target)) - target) < 1e-9, `${share} -> ${target}`);
  }
  assert.ok(Math.abs(shareAfter(0.5, 2) - 1 / 3) < 1e-9, 'half the GC work: 1 of 3 units instead of 1 of 2');
});

test('Go: a high GC share raises GOGC as far as the memory room allows, and sets GOMEMLIMIT with headroom', () => {
  const verdict = adviseGo(go(), CALM, OPTIONS);
  const budget = gcBudget(go(), 2, 0, OPTIONS);
  assert.ok(verdict.settings !== undefined, verdict.reason);
  assert.equal(verdict.settings.memoryLimitMb, Math.floor(budget.budgetMb));
  // 45% needs GOGC ~1550 for 5%; the room under 80% of the limit is less.
  const room = Math.floor(((0.8 * verdict.settings.memoryLimitMb - 27) / 27.2) * 100);
  assert.equal(verdict.settings.gogc, room);
  assert.ok(room > 400 && room < 600, `room ${room}`);
  const goal = 27 + 27.2 * (verdict.settings.gogc / 100);
  assert.ok(goal <= 0.8 * verdict.settings.memoryLimitMb, `heap goal ${goal} MiB within 80% of GOMEMLIMIT`);
  assert.match(verdict.reason, /GC took 45% of CPU \(sdk\).*GOGC 100 → \d+ .*past the memory room.*GOMEMLIMIT \(none\) → GOMEMLIMIT \d+ MiB/);
});

test('Go: with room to spare GOGC goes to what brings the share to the target, never past the bound', () => {
  const big = adviseGo(go({ memoryLimitMb: 4096, recycleMemoryMb: 3686, gcShare: 0.2 }), CALM, OPTIONS);
  assert.equal(big.settings?.gogc, Math.round(100 * workReduction(0.2, 0.05)));
  assert.equal(adviseGo(go({ memoryLimitMb: 16384, recycleMemoryMb: 14745, gcShare: 0.9 }), CALM, OPTIONS).settings?.gogc, OPTIONS.gogcMax);
});

test('Go: a low share leaves GOGC; GOMEMLIMIT is set when missing and left when in place; a small move is not a change', () => {
  const limitOnly = adviseGo(go({ gcShare: 0.04 }), CALM, OPTIONS);
  assert.equal(limitOnly.settings?.gogc, 100);
  assert.match(limitOnly.reason, /not above 10%.*GOMEMLIMIT \(none\)/);
  const inPlace = adviseGo(go({ gcShare: 0.04, gcMemoryLimitMb: limitOnly.settings!.memoryLimitMb }), CALM, OPTIONS);
  assert.equal(inPlace.settings, undefined, inPlace.reason);
  // Share just above the mark but already at the room: nothing worth doing.
  const atRoom = adviseGo(go({ gogc: 480, gcShare: 0.12, gcMemoryLimitMb: limitOnly.settings!.memoryLimitMb }), CALM, OPTIONS);
  assert.equal(atRoom.settings, undefined, atRoom.reason);
  assert.match(atRoom.reason, /too close/);
  // A GOMEMLIMIT above the budget is unsafe and comes down even by a little.
  assert.equal(adviseGo(go({ gcShare: 0.04, gcMemoryLimitMb: limitOnly.settings!.memoryLimitMb * 1.1 }), CALM, OPTIONS).settings?.memoryLimitMb, limitOnly.settings!.memoryLimitMb);
});

test('Go: no flapping: the raised setting, measured again at a lower share, stays', () => {
  const first = adviseGo(go(), CALM, OPTIONS).settings!;
  const after = adviseGo(go({ gogc: first.gogc, gcMemoryLimitMb: first.memoryLimitMb, gcShare: shareAfter(0.45, first.gogc / 100) }), CALM, OPTIONS);
  assert.equal(after.settings, undefined, after.reason);
  // The live heap wobbling by 20% moves nothing either.
  assert.equal(adviseGo(go({ gogc: first.gogc, gcMemoryLimitMb: first.memoryLimitMb, gcShare: 0.09, liveHeapMb: 27 * 1.2 }), CALM, OPTIONS).settings, undefined);
});

test('Go: when the live heap grows, GOGC comes down to what fits, whatever the share', () => {
  const verdict = adviseGo(go({ gogc: 500, gcMemoryLimitMb: 214, liveHeapMb: 60, gcShare: 0.02 }), CALM, OPTIONS);
  assert.ok(verdict.settings !== undefined);
  assert.ok(verdict.settings.gogc < 200, `GOGC ${verdict.settings.gogc}`);
  assert.match(verdict.reason, /grew/);
});

test('Go: after an OOM kill GOGC halves and GOMEMLIMIT drops a step; while raises are held GOGC does not rise', () => {
  const before = adviseGo(go(), CALM, OPTIONS).settings!;
  const after = adviseGo(go({ gogc: before.gogc, gcMemoryLimitMb: before.memoryLimitMb }), { oomLevel: 1, afterOom: true, mayRaise: false }, OPTIONS);
  assert.equal(after.settings?.gogc, Math.floor(before.gogc / 2));
  assert.ok(after.settings!.memoryLimitMb < before.memoryLimitMb * 0.92, `${after.settings!.memoryLimitMb} vs ${before.memoryLimitMb}`);
  assert.match(after.reason, /OOM-killed/);
  const held = adviseGo(go({ gcMemoryLimitMb: before.memoryLimitMb }), { oomLevel: 0, afterOom: false, mayRaise: false }, OPTIONS);
  assert.equal(held.settings, undefined, held.reason);
  assert.match(held.reason, /held/);
  // GOGC never goes below its floor.
  assert.equal(adviseGo(go({ gogc: 60 }), { oomLevel: 1, afterOom: true, mayRaise: false }, OPTIONS).settings?.gogc, OPTIONS.gogcMin);
});

test('Go: a live heap that leaves no room says to raise the memory limit', () => {
  const verdict = adviseGo(go({ memoryLimitMb: 64, recycleMemoryMb: 57, liveHeapMb: 40 }), CALM, OPTIONS);
  assert.equal(verdict.settings?.gogc, OPTIONS.gogcMin);
  assert.match(verdict.reason, /raise limits\.memoryMb/);
});

test('Node: a high scavenge share grows the semi-space by powers of two within the room; the old space takes the rest', () => {
  const verdict = adviseNode(node(), CALM, OPTIONS);
  assert.ok(verdict.settings !== undefined, verdict.reason);
  // 35% scavenging wants 26x less work; one step is at most 8x.
  assert.equal(verdict.settings.maxSemiSpaceMb, 8);
  const { budgetMb } = gcBudget(node(), 5, 0, OPTIONS);
  assert.equal(verdict.settings.maxOldSpaceMb, Math.floor(budgetMb - 3 * 8));
  assert.match(verdict.reason, /scavenge pauses took 35% of CPU time, 30% of the young generation surviving: semi-space 1 → 8 MiB/);
  // The next step is bounded by memory: three semi-spaces and twice the old generation within the budget.
  const next = adviseNode(node({ semiSpaceMb: 8, oldSpaceFlagMb: verdict.settings.maxOldSpaceMb, heapLimitMb: verdict.settings.maxOldSpaceMb + 24 }), CALM, OPTIONS);
  assert.equal(next.settings?.maxSemiSpaceMb, 32);
  assert.ok(3 * 32 + 2 * 10 <= budgetMb);
});

test('Node: a heap limit above the memory limit gets an old space under it even when the GC is quiet', () => {
  const verdict = adviseNode(node({ scavengeShare: 0.01, gcShare: 0.02, semiSpaceMb: 8, heapLimitMb: 1050 }), CALM, OPTIONS);
  assert.equal(verdict.settings?.maxSemiSpaceMb, 8);
  assert.match(verdict.reason, /old space 1050 → \d+ MiB, so V8 collects harder/);
  const settled = adviseNode(node({ scavengeShare: 0.01, gcShare: 0.02, semiSpaceMb: 8, oldSpaceFlagMb: verdict.settings!.maxOldSpaceMb }), CALM, OPTIONS);
  assert.equal(settled.settings, undefined, settled.reason);
});

test('Node: a growing old generation takes back the semi-space; an OOM kill halves it', () => {
  const squeezed = adviseNode(node({ semiSpaceMb: 32, oldUsedMb: 80, oldSpaceFlagMb: 100, scavengeShare: 0.5 }), CALM, OPTIONS);
  assert.ok(squeezed.settings !== undefined && squeezed.settings.maxSemiSpaceMb < 32, squeezed.reason);
  assert.ok(squeezed.settings.maxOldSpaceMb >= 160, `old space ${squeezed.settings.maxOldSpaceMb} for 80 MiB in use`);
  const oom = adviseNode(node({ semiSpaceMb: 16, oldSpaceFlagMb: 150 }), { oomLevel: 1, afterOom: true, mayRaise: false }, OPTIONS);
  assert.equal(oom.settings?.maxSemiSpaceMb, 8);
  assert.match(oom.reason, /OOM-killed/);
});

test('guard: advice found in force is applied; advice not in force, or rolled back later, holds raises for a back-off', () => {
  const guard = new GcGuard(OPTIONS);
  assert.deepEqual(guard.observe({}, 0, 0), { newOomKills: 0, changed: false });
  assert.equal(guard.cooling(0), undefined, 'settings in force since before the first look');
  guard.gave({ gogc: 400, memoryLimitMb: 200 });
  assert.deepEqual(guard.observe({ gogc: 400, memoryLimitMb: 200 }, 0, 60_000), { newOomKills: 0, changed: true });
  assert.equal(guard.raiseHeld(60_000), undefined);
  assert.match(guard.cooling(90_000) ?? '', /changed 30 s ago/);
  assert.equal(guard.cooling(120_000), undefined);
  // Rolled back by the live tuner.
  guard.observe({}, 0, 200_000);
  assert.match(guard.raiseHeld(200_000) ?? '', /rolled back.*30 min more/);
  assert.equal(guard.raiseHeld(200_000 + OPTIONS.backoffMs), undefined);

  const refused = new GcGuard(OPTIONS);
  refused.observe({ gogc: 100 }, 0, 0);
  refused.gave({ gogc: 300, memoryLimitMb: 200 });
  refused.observe({ gogc: 100 }, 0, 60_000);
  assert.match(refused.raiseHeld(60_000) ?? '', /was not applied/);
});

test('guard: each OOM kill steps memory down and holds raises; a repeat within twice the back-off doubles it', () => {
  const guard = new GcGuard(OPTIONS);
  guard.observe({}, 0, 0);
  assert.deepEqual(guard.observe({}, 2, 1000), { newOomKills: 2, changed: false });
  assert.equal(guard.oomLevel, 1);
  assert.ok(guard.raiseHeld(1000 + OPTIONS.backoffMs - 1) !== undefined);
  guard.observe({}, 3, 1000 + OPTIONS.backoffMs);
  assert.equal(guard.oomLevel, 2);
  assert.match(guard.raiseHeld(1000 + OPTIONS.backoffMs) ?? '', /1 OOM kill; raises held for 1 h more/);
  // Kills from before the first look are history: no step down, but raises wait.
  const late = new GcGuard(OPTIONS);
  assert.equal(late.observe({}, 4, 0).newOomKills, 0);
  assert.equal(late.oomLevel, 0);
  assert.match(late.raiseHeld(0) ?? '', /had 4 OOM kills before/);
});

test.run();
