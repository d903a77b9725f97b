// The keep-alive references computed in hindsight: level gaps and costs worked out by hand on
// a few requests, then the relations that must hold on an hour of a real trace.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import { bestSettingsCost, clairvoyantCost, fixedKeepAliveCost, type Level, levelGaps, type PolicyCost, traceLevels } from '../../agent/tuner/keepalive-bound.js';
import { traceSlice } from '../../agent/tuner/replay.js';
import { readTrace } from '../../agent/tuner/trace.js';

const ROOT = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const TRACES = process.env['HEARTH_TRACES'] ?? path.join(ROOT, 'test/fixtures/traces');

// Level 1 is busy over [0, 15), [20, 30), [40, 45); level 2 over [5, 10).
const REQUESTS: [number, number][] = [
  [0, 10],
  [5, 15],
  [20, 30],
  [40, 45],
];

/** Plain numbers, for comparing. */
function plain(levels: Level[]): { firstUseMs: number; gaps: number[]; gapEndsMs: number[]; openMs: number }[] {
  return levels.map((level) => ({ ...level, gaps: [...level.gaps], gapEndsMs: [...level.gapEndsMs] }));
}

test('a level is idle while fewer requests than it run: its first use, the gaps an arrival ends, the gap open at the horizon', () => {
  assert.deepEqual(plain(levelGaps(REQUESTS, 100)), [
    { firstUseMs: 0, gaps: [5, 10], gapEndsMs: [20, 40], openMs: 55 },
    { firstUseMs: 5, gaps: [], gapEndsMs: [], openMs: 90 },
  ]);
  // A request ending as another starts hands its worker over: a gap of 0.
  assert.deepEqual(plain(levelGaps([[0, 10], [10, 20]], 20)), [{ firstUseMs: 0, gaps: [0], gapEndsMs: [10], openMs: 0 }]);
  assert.deepEqual(levelGaps([], 50), []);
});

test('requests out of order are refused with the offending one named', () => {
  assert.throws(() => levelGaps([[10, 20], [5, 8]], 100), /levelGaps: requests must come in order of start .*got \[5, 8\) after a start at 10/);
  assert.throws(() => levelGaps([[10, 5]], 100), /got \[10, 5\)/);
});

test('a fixed keep-alive holds each worker after every request, never before its first; a gap longer than it is a cold start', () => {
  const fn = { memoryMb: 2, levels: levelGaps(REQUESTS, 100) };
  // Cold: two first uses and the 10 ms gap; idle: 5 + 7 after the closed gaps, 7 + 7 of the open ones.
  assert.deepEqual(fixedKeepAliveCost([fn], 7), { coldStarts: 3, idleMbMs: 26 * 2 });
  assert.deepEqual(fixedKeepAliveCost([{ ...fn, memoryMb: 1 }], 1000), { coldStarts: 2, idleMbMs: 5 + 10 + 55 + 90 });
});

test('clairvoyant: the cheapest spells are held, across functions by length × memory, within the budget', () => {
  const one = { memoryMb: 1, levels: levelGaps(REQUESTS, 100) };
  // Prices 0 and 5 (first uses), 5 and 10 (gaps); open spells are never worth holding.
  assert.deepEqual(clairvoyantCost([one], 10), { coldStarts: 1, idleMbMs: 10 });
  assert.deepEqual(clairvoyantCost([one], 9), { coldStarts: 2, idleMbMs: 5 });
  assert.deepEqual(clairvoyantCost([one], 0), { coldStarts: 3, idleMbMs: 0 });
  // A dear worker's 2 ms gap (200 MB·ms) loses to a cheap worker's 19 ms one; both first uses, at 0, cost nothing.
  const dear = { memoryMb: 100, levels: levelGaps([[0, 1], [3, 4]], 4) };
  const cheap = { memoryMb: 1, levels: levelGaps([[0, 1], [20, 21]], 21) };
  assert.deepEqual(clairvoyantCost([dear, cheap], 199), { coldStarts: 1, idleMbMs: 19 });
  assert.deepEqual(clairvoyantCost([dear, cheap], 219), { coldStarts: 0, idleMbMs: 219 });
});

test('best settings: min and one keep-alive per stretch, where a held gap saves most per MB·ms, within the budget', () => {
  // One level whose gaps are 1, 1, 1 (ending at 1, 2, 3) and 100 (ending at 103), none open at the horizon.
  const fn = { memoryMb: 1, levels: levelGaps([[0, 0], [1, 1], [2, 2], [3, 3], [103, 103]], 103) };
  const day = (budget: number): PolicyCost => bestSettingsCost([fn], budget, 103, 103);
  assert.deepEqual(day(0), { coldStarts: 5, idleMbMs: 0 });
  // A keep-alive of 1 ms holds the three short gaps and pays 1 ms of the long one.
  assert.deepEqual(day(50), { coldStarts: 2, idleMbMs: 4 });
  assert.deepEqual(day(3.5), { coldStarts: 5, idleMbMs: 0 });
  // Held for good (min 1) or a keep-alive of 100 ms or more: every gap.
  assert.deepEqual(day(200), { coldStarts: 1, idleMbMs: 103 });
  // In two stretches the first holds its short gaps and the second lets the long one go, paying nothing for it.
  assert.deepEqual(bestSettingsCost([fn], 3.5, 50, 103), { coldStarts: 2, idleMbMs: 3 });
});

test('best settings: min holds the lowest levels, the keep-alive serves the levels above', () => {
  // Level 1: nine gaps of 10 ms, then 10 ms open at the horizon; level 2: one use, then idle 194 ms to the horizon. A
  // keep-alive of 10 ms or more holds level 1's gaps but pays 10 ms more of level 2's open spell; min 1 holds level 1 alone.
  const requests: [number, number][] = [[0, 10], [5, 6]];
  for (let start = 20; start < 200; start += 20) requests.push([start, start + 10]);
  const fn = { memoryMb: 1, levels: levelGaps(requests, 200) };
  assert.deepEqual(bestSettingsCost([fn], 100, 200, 200), { coldStarts: 2, idleMbMs: 100 });
});

test('on an hour of a real trace: every arrival ends one spell; at the 10-minute keep-alive\'s memory, clairvoyant < best settings per 10 minutes ≤ for the hour < it', () => {
  const trace = traceSlice(readTrace(path.join(TRACES, 'azure2019-sample20')), 0, 60);
  const functions = traceLevels(trace, { seed: 42, compression: 1, spread: 'poisson' });
  const spells = functions.reduce((sum, fn) => sum + fn.levels.reduce((count, level) => count + 1 + level.gaps.length, 0), 0);
  const arrivals = trace.functions.reduce((sum, fn) => sum + fn.perMinute.reduce((a, b) => a + b, 0), 0);
  assert.equal(spells, arrivals);
  const fixed = fixedKeepAliveCost(functions, 600_000);
  const clairvoyant = clairvoyantCost(functions, fixed.idleMbMs);
  const stretches = bestSettingsCost(functions, fixed.idleMbMs, 600_000, 3_600_000);
  const hour = bestSettingsCost(functions, fixed.idleMbMs, 3_600_000, 3_600_000);
  assert.ok(fixed.coldStarts > 0, 'the hour has cold starts to save');
  const figures = `clairvoyant ${clairvoyant.coldStarts}, best settings per 10 minutes ${stretches.coldStarts}, for the hour ${hour.coldStarts}, 10-minute keep-alive ${fixed.coldStarts}`;
  assert.ok(clairvoyant.coldStarts < stretches.coldStarts && stretches.coldStarts <= hour.coldStarts && hour.coldStarts < fixed.coldStarts, figures);
  for (const cost of [clairvoyant, stretches, hour]) assert.ok(cost.idleMbMs <= fixed.idleMbMs, figures);
});

test.run();
