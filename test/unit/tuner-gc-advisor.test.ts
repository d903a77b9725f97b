// The GC advisor's inputs from the runtime's stats (differences between two readings of the
// same workers, bad figures from a worker left out, the profile preferred to the SDK when it
// has enough samples) and the advisor's course over successive calls, on a scripted stats
// source.
import assert from 'node:assert/strict';
import { test } from 'uvu';
import type { FunctionStats, WorkerStats } from '../../shared/api.js';
import { createGcAdvisor } from '../../agent/tuner/gc/advisor.js';
import { goInputs, nodeInputs } from '../../agent/tuner/gc/inputs.js';
import { DEFAULT_GC_OPTIONS as OPTIONS } from '../../agent/tuner/gc/options.js';
import type { GcSettings, TunedFunction } from '../../agent/tuner/gc-advice.js';
import type { GcTotals } from '../../runtime/sdk/node/gc-stats.js';

const MIB = 1048576;

function worker(pid: number, sdk: Record<string, unknown> | null, extra: Partial<WorkerStats> = {}): WorkerStats {
  return { pid, id: pid, version: 1, status: 'busy', invocations: 0, ageMs: 0, cpuSeconds: 0, memoryBytes: null, peakMemoryBytes: null, privateBytes: 50 * MIB, sdk, ...extra };
}

function goReply(gcCpuSeconds: number, busyCpuSeconds: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ok: true, heapLiveBytes: 27 * MIB, rootsBytes: 0.2 * MIB, mappedBytes: 45 * MIB, gcCpuSeconds, busyCpuSeconds, gogc: 100, memoryLimitBytes: 9223372036854775807, ...extra };
}

function stats(kind: 'go' | 'node', workers: WorkerStats[], extra: Partial<FunctionStats> = {}): FunctionStats {
  return { function: 'fn', kind, version: 1, unixMs: 0, memoryLimitMb: 256, recycleMemoryMb: 230, gc: {}, oomKills: 0, workers, ...extra };
}

test('Go inputs: the share is the GC CPU over busy CPU grown between readings of the same workers', () => {
  const before = stats('go', [worker(1, goReply(1, 3)), worker(2, goReply(2, 5)), worker(3, goReply(0, 0))]);
  const now = stats('go', [worker(1, goReply(2, 5)), worker(2, goReply(3.5, 7)), worker(4, goReply(9, 10))]);
  const { inputs, figures } = goInputs(now, { stats: before, at: 0 }, undefined, OPTIONS);
  // Workers 1 and 2 only (3 is gone, 4 is new): (1 + 1.5) / (2 + 2).
  assert.equal(inputs.gcShare, 2.5 / 4);
  assert.equal(inputs.shareSource, 'sdk');
  assert.equal(figures['workersCompared'], 2);
  assert.equal(inputs.gcMemoryLimitMb, null, 'MaxInt64 is no limit');
  assert.equal(inputs.liveHeapMb, 27);
  assert.equal(inputs.outsideMb, 5);
  // Too little CPU between readings: no share.
  assert.equal(goInputs(stats('go', [worker(1, goReply(1.1, 3.5))]), { stats: before, at: 0 }, undefined, OPTIONS).inputs.gcShare, null);
  // A first reading has nothing to compare with.
  assert.equal(goInputs(now, undefined, undefined, OPTIONS).inputs.shareSource, 'none');
});

test('Go inputs: the profile is preferred when it has enough samples; figures a worker garbles are left out', () => {
  const before = stats('go', [worker(1, goReply(1, 3))]);
  const now = stats('go', [worker(1, goReply(2, 5, { heapLiveBytes: -5, memoryLimitBytes: 200 * MIB, gogc: 'lots' })), worker(2, null, { error: 'timeout' })]);
  const profiled = goInputs(now, { stats: before, at: 0 }, { function: 'fn', share: 0.3, gcSamples: 300, samples: 1000 }, OPTIONS).inputs;
  assert.equal(profiled.gcShare, 0.3);
  assert.equal(profiled.shareSource, 'profile');
  assert.equal(profiled.liveHeapMb, 0);
  assert.equal(profiled.gcMemoryLimitMb, 200);
  assert.equal(profiled.gogc, 100, 'a GOGC that is not a number is taken as the default');
  const thin = goInputs(now, { stats: before, at: 0 }, { function: 'fn', share: 0.3, gcSamples: 30, samples: 100 }, OPTIONS).inputs;
  assert.equal(thin.shareSource, 'sdk');
  // A counter that went backwards (a restarted worker reusing a pid) is not a difference.
  assert.equal(goInputs(stats('go', [worker(1, goReply(0.5, 9))]), { stats: before, at: 0 }, undefined, OPTIONS).inputs.gcShare, null);
});

function nodeReply(cpuMs: number, gc: Partial<GcTotals>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ok: true,
    heapTotalBytes: 40 * MIB,
    heapLimitBytes: 259 * MIB,
    semiSpaceBytes: 1 * MIB,
    oldSpaceBytes: 12 * MIB,
    maxSemiSpaceMb: null,
    maxOldSpaceMb: null,
    cpuMs,
    gcSinceMs: 1000,
    gc: { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, scavengedBytes: 0, survivedBytes: 0, promotedBytes: 0, ...gc },
    ...extra,
  };
}

test('Node inputs: scavenge share, survival and heap figures, over one accounting period only', () => {
  const before = stats('node', [worker(1, nodeReply(1000, { scavengeMs: 100, scavengedBytes: 100 * MIB, survivedBytes: 10 * MIB, promotedBytes: 5 * MIB }))]);
  const now = stats('node', [worker(1, nodeReply(3000, { scavengeMs: 700, markCompactMs: 100, scavengedBytes: 300 * MIB, survivedBytes: 50 * MIB, promotedBytes: 25 * MIB }))]);
  const { inputs } = nodeInputs(now, { stats: before, at: 0 }, undefined, OPTIONS);
  assert.equal(inputs.scavengeShare, 0.3);
  assert.equal(inputs.gcShare, 0.35);
  assert.equal(inputs.survival, 60 / 200);
  assert.equal(inputs.semiSpaceMb, 1);
  assert.equal(inputs.heapLimitMb, 259);
  assert.equal(inputs.oldUsedMb, 12);
  assert.equal(inputs.outsideMb, 10);
  const restarted = stats('node', [worker(1, nodeReply(3000, { scavengeMs: 700 }, { gcSinceMs: 2000 }))]);
  assert.equal(nodeInputs(restarted, { stats: before, at: 0 }, undefined, OPTIONS).inputs.scavengeShare, null);
});

/** A stats source that plays back a script, one reading per call, and the function as the live tuner would pass it. */
function scripted(readings: FunctionStats[]): { functionStats(): Promise<FunctionStats> } {
  let next = 0;
  return { functionStats: () => Promise.resolve(readings[Math.min(next++, readings.length - 1)]!) };
}

function tuned(gc: GcSettings): TunedFunction {
  return { name: 'fn', kind: 'go', gc, memoryLimitMb: 256 };
}

test('advisor: measures first, then advises with its reason and inputs; not again while the change cools; holds off when its advice is refused', async () => {
  const readings = [0, 1, 2, 3].map((i) => stats('go', [worker(1, goReply(i * 5, i * 10))]));
  const advisor = createGcAdvisor({ runtime: scripted(readings) });
  assert.equal(await advisor.advise(tuned({}), 0), undefined, 'one reading is no share');
  const advice = await advisor.advise(tuned({}), 60_000);
  assert.ok(advice !== undefined);
  assert.ok(advice.settings.gogc! > 100 && advice.settings.memoryLimitMb! > 100, JSON.stringify(advice.settings));
  assert.match(advice.reason, /^GC took 50% of CPU \(sdk\)/);
  assert.equal(advice.inputs['gcShare'], 0.5);
  assert.equal(advice.inputs['shareSource'], 'sdk');
  assert.equal(advice.inputs['memoryLimitMb'], 256);
  // Applied: the next look is too soon after the change.
  assert.equal(await advisor.advise(tuned(advice.settings), 90_000), undefined);
  // Someone put the settings back: no advice to raise them again for the back-off.
  assert.equal(await advisor.advise(tuned({}), 200_000), undefined);
});

test('advisor: an OOM kill gets safer settings at once, cooling or not', async () => {
  const healthy = stats('go', [worker(1, goReply(5, 10))]);
  const later = stats('go', [worker(1, goReply(10, 20))]);
  const readings = [healthy, later];
  const advisor = createGcAdvisor({ runtime: scripted(readings) });
  await advisor.advise(tuned({}), 0);
  const raised = (await advisor.advise(tuned({}), 60_000))!;
  // The worker that replaced the killed one runs the raised settings.
  readings.push(stats('go', [worker(2, goReply(0, 0, { gogc: raised.settings.gogc }))], { oomKills: 1 }));
  const backedOff = await advisor.advise(tuned(raised.settings), 61_000);
  assert.ok(backedOff !== undefined);
  assert.equal(backedOff.settings.gogc, Math.floor(raised.settings.gogc! / 2));
  assert.ok(backedOff.settings.memoryLimitMb! < raised.settings.memoryLimitMb!);
  assert.equal(backedOff.inputs['newOomKills'], 1);
});

test('advisor: an OOM kill seen while no worker answers is answered at the next look that finds one', async () => {
  const readings = [stats('go', [worker(1, goReply(5, 10))]), stats('go', [worker(1, goReply(10, 20))])];
  const advisor = createGcAdvisor({ runtime: scripted(readings) });
  await advisor.advise(tuned({}), 0);
  const raised = (await advisor.advise(tuned({}), 60_000))!;
  // The killed worker is gone and its replacement not yet ready.
  readings.push(stats('go', [], { oomKills: 1 }));
  assert.equal(await advisor.advise(tuned(raised.settings), 61_000), undefined, 'nothing to read');
  readings.push(stats('go', [worker(2, goReply(0, 0, { gogc: raised.settings.gogc }))], { oomKills: 1 }));
  const backedOff = await advisor.advise(tuned(raised.settings), 62_000);
  assert.ok(backedOff !== undefined, 'the kill is still answered, cooling or not');
  assert.equal(backedOff.settings.gogc, Math.floor(raised.settings.gogc! / 2));
  assert.equal(backedOff.inputs['newOomKills'], 1);
  // Answered once: the next look sees no kill to answer.
  readings.push(stats('go', [worker(2, goReply(0, 0, { gogc: backedOff.settings.gogc }))], { oomKills: 1 }));
  assert.equal(await advisor.advise(tuned(backedOff.settings), 63_000), undefined);
});

test.run();
