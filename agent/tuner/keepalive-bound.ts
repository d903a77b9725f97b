// How few cold starts a keep-alive policy could have on a trace for a given idle memory-time,
// for judging a target against the fixed keep-alive: two references computed from the whole
// day in hindsight, for policies that only decide how long idle workers stay (`min` and
// keep-alive; pre-warming ahead of arrivals is outside both).
// - Clairvoyant: knows every idle gap in advance and holds a worker through exactly the
//   cheapest gaps the memory allows (a knapsack of equal-valued items, which the
//   cheapest-first choice solves). No policy of this kind does better.
// - Best fixed keep-alives: each function's each level gets the one keep-alive that is best
//   for its whole day, chosen knowing that day. What a policy would reach that learned each
//   level's gap distribution perfectly but did not follow its changes through the day.
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
  /** Its idle spells after that which an arrival ended, ms, shortest first. */
  gaps: Float64Array;
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
    } else {
      gaps[concurrency]!.push(start - since);
    }
    concurrency++;
    running.push(end, null);
  }
  endUntil(Infinity);
  return firstUses.map((firstUseMs, level) => ({ firstUseMs, gaps: Float64Array.from(gaps[level]!).sort(), openMs: Math.max(0, horizonMs - idleSince[level]!) }));
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
 * Best fixed keep-alives in hindsight: per level, the keep-alive that minimises cold starts ×
 * λ + idle memory-time, with λ (what a cold start is worth in MB·ms) the largest that keeps
 * the total within `budgetMbMs`. A level's candidates are 0 and each of its gap lengths: any
 * other keep-alive costs more memory for the same cold starts as the gap length below it.
 */
export function bestFixedKeepAlivesCost(functions: readonly FunctionLevels[], budgetMbMs: number): PolicyCost {
  const cumulative = functions.flatMap(({ levels }) => levels.map((level) => prefixSums(level.gaps)));
  const at = (worth: number): PolicyCost => {
    const cost = { coldStarts: 0, idleMbMs: 0 };
    let index = 0;
    for (const { memoryMb, levels } of functions) {
      for (const level of levels) {
        const sums = cumulative[index++]!;
        const n = level.gaps.length;
        let best = { coldStarts: n, idleMbMs: 0 };
        for (let i = 0; i < n; i++) {
          const keepAliveMs = level.gaps[i]!;
          const idleMbMs = (sums[i + 1]! + (n - 1 - i) * keepAliveMs + Math.min(level.openMs, keepAliveMs)) * memoryMb;
          if ((n - 1 - i) * worth + idleMbMs < best.coldStarts * worth + best.idleMbMs) best = { coldStarts: n - 1 - i, idleMbMs };
        }
        // The first use is a cold start under any keep-alive.
        cost.coldStarts += best.coldStarts + 1;
        cost.idleMbMs += best.idleMbMs;
      }
    }
    return cost;
  };
  // Bisected in log(λ): the cost's memory grows with λ.
  let [low, high] = [1e-9, 1e18];
  for (let step = 0; step < 60; step++) {
    const middle = Math.sqrt(low * high);
    if (at(middle).idleMbMs > budgetMbMs) high = middle;
    else low = middle;
  }
  return at(low);
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
