// How few cold starts a keep-alive policy could have on a trace for a given idle memory-time,
// for judging a target against the fixed keep-alive: references computed from the whole day
// in hindsight, for policies that only decide how long idle workers stay (`min` and
// keep-alive; pre-warming ahead of arrivals is outside them).
// - Clairvoyant: knows every idle gap in advance and holds a worker through exactly the
//   cheapest gaps the memory allows (a knapsack of equal-valued items, which the
//   cheapest-first choice solves). No policy of this kind does better.
// - Best settings: per function, the `min` and keep-alive that the runtime can take, each
//   the best for a stretch of the day (an hour, say, or the whole day), chosen knowing it.
//   What a policy would reach that knew each stretch's gaps before it began.
//
// The model is the simulator's pool without its start-up delay: a request goes to the most
// recently used idle worker, so worker j is busy exactly while j or more requests run, and
// its idle gaps are the spells with fewer. A gap that ends in an arrival is a cold start
// unless its worker is held through it; so is a level's first use, unless held from 0. The
// simulator counts fewer cold starts under the same policy, since there a request that finds
// no idle worker may be served by a busy one freeing up before a new one is ready.

import { EventQueue } from './event-queue.js';
import { arrivalTimes, durationSampler, type ReplayOptions, TRACE_MINUTE_MS } from './replay.js';
import type { Trace, TraceFunction } from './trace.js';

/** The worker at one level of concurrency over the day. */
export interface Level {
  /** ms from 0 to its first use. */
  firstUseMs: number;
  /** Its idle spells after that which an arrival ended, ms, in order. */
  gaps: Float64Array;
  /** When each of them ended, ms. */
  gapEndsMs: Float64Array;
  /** Its idle spell still open at the horizon, ms: no cold start ends it. */
  openMs: number;
}

export interface FunctionLevels {
  memoryMb: number;
  levels: Level[];
}

export interface PolicyCost {
  coldStarts: number;
  /** MB × ms of idle workers. */
  idleMbMs: number;
}

/** Per level of concurrency, the idle spells of the worker at that level; `requests` are [start, end) pairs in order of start. */
export function levelGaps(requests: Iterable<readonly [number, number]>, horizonMs: number): Level[] {
  const running = new EventQueue<null>();
  const firstUses: number[] = [];
  const gaps: number[][] = [];
  const gapEnds: number[][] = [];
  const idleSince: number[] = [];
  let concurrency = 0;
  let previousStart = -Infinity;
  const endUntil = (at: number): void => {
    for (let next = running.pop(); next !== undefined; next = running.pop()) {
      if (next.at > at) return running.push(next.at, null);
      idleSince[--concurrency] = next.at;
    }
  };
  for (const [start, end] of requests) {
    if (start < previousStart || end < start) throw new Error(`levelGaps: requests must come in order of start with end ≥ start; got [${start}, ${end}) after a start at ${previousStart}`);
    previousStart = start;
    endUntil(start);
    const since = idleSince[concurrency];
    if (since === undefined) {
      firstUses.push(start);
      gaps.push([]);
      gapEnds.push([]);
    } else {
      gaps[concurrency]!.push(start - since);
      gapEnds[concurrency]!.push(start);
    }
    concurrency++;
    running.push(end, null);
  }
  endUntil(Infinity);
  return firstUses.map((firstUseMs, level) => ({ firstUseMs, gaps: Float64Array.from(gaps[level]!), gapEndsMs: Float64Array.from(gapEnds[level]!), openMs: Math.max(0, horizonMs - idleSince[level]!) }));
}

/** A fixed keep-alive: a worker is never held before its first use, then for `keepAliveMs` after each request; a longer gap is a cold start. */
export function fixedKeepAliveCost(functions: readonly FunctionLevels[], keepAliveMs: number): PolicyCost {
  const cost = { coldStarts: 0, idleMbMs: 0 };
  for (const { memoryMb, levels } of functions) {
    for (const level of levels) {
      const held = holding(level, keepAliveMs);
      cost.coldStarts += held.coldStarts;
      cost.idleMbMs += held.idleMs * memoryMb;
    }
  }
  return cost;
}

/**
 * Clairvoyant: the fewest cold starts for at most `budgetMbMs` of idle memory-time across all
 * functions. Spells are held cheapest first (a spell's price is its length × its worker's
 * memory, a level's wait for its first use included) until the budget runs out; spells open
 * at the horizon are never held, since no cold start ends them.
 */
export function clairvoyantCost(functions: readonly FunctionLevels[], budgetMbMs: number): PolicyCost {
  const total = functions.reduce((sum, fn) => sum + fn.levels.reduce((count, level) => count + 1 + level.gaps.length, 0), 0);
  const prices = new Float64Array(total);
  let filled = 0;
  for (const { memoryMb, levels } of functions) {
    for (const level of levels) {
      prices[filled++] = level.firstUseMs * memoryMb;
      for (const gap of level.gaps) prices[filled++] = gap * memoryMb;
    }
  }
  prices.sort();
  let spent = 0;
  let held = 0;
  while (held < total && spent + prices[held]! <= budgetMbMs) spent += prices[held++]!;
  return { coldStarts: total - held, idleMbMs: spent };
}

/**
 * Best settings in hindsight: per function and stretch of `stretchMs`, the `min` (its lowest
 * levels held through every gap that ends in the stretch) and the keep-alive of the levels
 * above it (from KEEP_ALIVES) that minimise cold starts × λ + idle memory-time, with λ (what a
 * cold start is worth in MB·ms) the largest that keeps the total within `budgetMbMs`. A
 * level's first use is a cold start under any settings.
 */
export function bestSettingsCost(functions: readonly FunctionLevels[], budgetMbMs: number, stretchMs: number, horizonMs: number): PolicyCost {
  const stretches = functions.flatMap((fn) => stretchTables(fn, stretchMs, horizonMs));
  const at = (worth: number): PolicyCost => {
    const cost = { coldStarts: 0, idleMbMs: 0 };
    for (const { memoryMb, levels, firstUses } of stretches) {
      const price = (coldStarts: number, idleMs: number): number => coldStarts * worth + idleMs * memoryMb;
      let best = { coldStarts: Infinity, idleMs: 0 };
      for (let k = 0; k < KEEP_ALIVES.length; k++) {
        let coldStarts = 0;
        let idleMs = 0;
        for (const level of levels) [coldStarts, idleMs] = [coldStarts + level.coldStarts[k]!, idleMs + level.idleMs[k]!];
        // min = 0, 1, ...: the lowest levels held for good instead.
        for (let min = 0; ; min++) {
          if (price(coldStarts, idleMs) < price(best.coldStarts, best.idleMs)) best = { coldStarts, idleMs };
          const level = levels[min];
          if (level === undefined) break;
          coldStarts += level.coldStarts[KEEP_ALIVES.length - 1]! - level.coldStarts[k]!;
          idleMs += level.idleMs[KEEP_ALIVES.length - 1]! - level.idleMs[k]!;
        }
      }
      cost.coldStarts += best.coldStarts + firstUses;
      cost.idleMbMs += best.idleMs * memoryMb;
    }
    return cost;
  };
  return withinBudget(at, budgetMbMs);
}

/** Requests of one function as the simulator replays them: its arrivals, each with a duration drawn in arrival order. */
export function* functionRequests(fn: TraceFunction, options: ReplayOptions): Generator<readonly [number, number]> {
  const duration = durationSampler(fn, options);
  for (const arrival of arrivalTimes(fn, options)) yield [arrival, arrival + duration()];
}

/** Every function's levels over the whole trace, replay ms. */
export function traceLevels(trace: Trace, options: ReplayOptions): FunctionLevels[] {
  const horizonMs = (trace.minutes * TRACE_MINUTE_MS) / options.compression;
  return trace.functions.map((fn) => ({ memoryMb: fn.memoryMb, levels: levelGaps(functionRequests(fn, options), horizonMs) }));
}

/** The keep-alives best settings choose among, ms: 0, 15% apart from 1 ms to a day, and for good (last). */
const KEEP_ALIVES = [0, ...Array.from({ length: 132 }, (_, i) => 1.15 ** i), Infinity];

interface StretchTable {
  memoryMb: number;
  /** Levels first used in the stretch. */
  firstUses: number;
  /** Per level, the cold starts and idle ms of the gaps ending in the stretch under each of KEEP_ALIVES. */
  levels: { coldStarts: Float64Array; idleMs: Float64Array }[];
}

/** A function's day cut into stretches; a gap belongs to the stretch it ends in, the one open at the horizon to the last. */
function stretchTables(fn: FunctionLevels, stretchMs: number, horizonMs: number): StretchTable[] {
  const count = Math.max(1, Math.ceil(horizonMs / stretchMs));
  const stretchOf = (at: number): number => Math.min(count - 1, Math.max(0, Math.floor(at / stretchMs)));
  return Array.from({ length: count }, (_, stretch) => ({
    memoryMb: fn.memoryMb,
    firstUses: fn.levels.filter((level) => stretchOf(level.firstUseMs) === stretch).length,
    levels: fn.levels.map((level) => {
      const gaps = Float64Array.from(level.gaps.filter((_, i) => stretchOf(level.gapEndsMs[i]!) === stretch)).sort();
      const sums = prefixSums(gaps);
      const openMs = stretch === count - 1 ? level.openMs : 0;
      const coldStarts = new Float64Array(KEEP_ALIVES.length);
      const idleMs = new Float64Array(KEEP_ALIVES.length);
      KEEP_ALIVES.forEach((keepAliveMs, k) => {
        const held = heldCount(gaps, keepAliveMs);
        coldStarts[k] = gaps.length - held;
        idleMs[k] = sums[held]! + (gaps.length - held) * (keepAliveMs === Infinity ? 0 : keepAliveMs) + Math.min(openMs, keepAliveMs);
      });
      return { coldStarts, idleMs };
    }),
  }));
}

/** How many of the sorted gaps a keep-alive holds through: those no longer than it. */
function heldCount(sorted: Float64Array, keepAliveMs: number): number {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sorted[middle]! <= keepAliveMs) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** The cost at the largest worth of a cold start whose memory stays within the budget, bisected in log(worth): memory grows with it. */
function withinBudget(at: (worth: number) => PolicyCost, budgetMbMs: number): PolicyCost {
  let [low, high] = [1e-9, 1e18];
  for (let step = 0; step < 60; step++) {
    const middle = Math.sqrt(low * high);
    if (at(middle).idleMbMs > budgetMbMs) high = middle;
    else low = middle;
  }
  return at(low);
}

/** One level under a keep-alive: its cold starts (the first use among them) and idle ms. */
function holding(level: Level, keepAliveMs: number): { coldStarts: number; idleMs: number } {
  let coldStarts = 1;
  let idleMs = Math.min(level.openMs, keepAliveMs);
  for (const gap of level.gaps) {
    idleMs += Math.min(gap, keepAliveMs);
    if (gap > keepAliveMs) coldStarts++;
  }
  return { coldStarts, idleMs };
}

function prefixSums(sorted: Float64Array): Float64Array {
  const sums = new Float64Array(sorted.length + 1);
  for (let i = 0; i < sorted.length; i++) sums[i + 1] = sums[i]! + sorted[i]!;
  return sums;
}
