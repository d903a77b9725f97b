// The cost model of the hearth policy (POLICY.md has the derivation). Holding a worker idle
// over a window [a, b] of a wait X until its next use is worth
//
//   gain(a, b) = coldStartCost · P(a ≤ X ≤ b) − idleCostPerMs · E[time held idle]
//
// and gains add up over workers and over disjoint windows. Two waits are known:
// - per-worker idle gaps (a worker freed until it is used again), which price the
//   keep-alive [0, k] shared by every worker above `min`;
// - recent bursts, which price a pre-warm [a, b] after a burst starts: it pays off for a
//   burst only if the burst was over before a (else it is overtaken), its lull outlasted
//   the keep-alive (else the kept worker serves the next burst anyway), and the next burst
//   starts inside the window; worker number j is used only if the burst reaches j in flight;
// - the same bursts' ramps, which price an onset pre-warm [start, start + ramp]: workers
//   started at a burst's first arrival for the requests that will join it while it ramps
//   up, for bursts that neither the keep-alive nor the pre-warm window served.
// Gap weights are decayed counts and each recent burst stands for an equal share of the
// decayed count of bursts, so both gains are rates and add up. Times are trace ms.

import { median } from '../../stats.js';
import type { Burst } from './bursts.js';
import type { Cell } from './decaying-histogram.js';
import type { GapGroups } from './worker-gaps.js';

export interface Economics {
  /** What one cold start costs: latency price × measured cold-start ms. */
  coldStartCost: number;
  /**
   * What missing a worker costs while other requests run: the request takes whichever
   * comes first, a new worker or a busy one freeing up, so latency price × min(cold-start
   * ms, execution ms).
   */
  missWhileBusyCost: number;
  /**
   * What one worker start costs the host, whether or not a request waits for it: start
   * price × cold-start ms. A gap a kept worker waits through saves it; a miss pays it, and
   * so does a miss a spare serves warm (its replacement starts).
   */
  startCost: number;
  /** What one idle worker costs per trace ms: memory price × private MB / 1000. */
  idleCostPerMs: number;
}

export interface KeepAliveChoice {
  keepAliveMs: number;
  gain: number;
  /** Share of the idle gaps' weight that ends within the keep-alive. */
  caught: number;
  /** The latency the gaps longer than the keep-alive cost in misses (weighted): what spare workers could save. */
  missedLatencyCost: number;
  /** 'fitted' to the gaps, or 'break-even' while too little has been seen. */
  basis: 'fitted' | 'break-even';
}

export interface PrewarmChoice {
  /** From the start of the last burst. */
  fromMs: number;
  untilMs: number;
  workers: number;
  gain: number;
  /** Share of recent bursts that the window would have caught. */
  hitRate: number;
}

/** Workers started as a burst begins, for the requests that join it while it ramps up. */
export interface OnsetChoice {
  /** Held until this long after the burst's first arrival: its ramp, plus a worker start. */
  untilMs: number;
  workers: number;
  gain: number;
  /** Share of recent bursts it would have served. */
  hitRate: number;
}

/**
 * Idle workers kept beyond those running (the pool's `spare`): the runtime starts another as
 * soon as a request takes one, so a request that finds every kept worker busy is served warm
 * unless more requests came in the cold start before its replacement is ready.
 */
export interface SpareChoice {
  workers: number;
  /** Of the misses the spares meet, the share still cold: more arrivals within one cold start than spares. */
  stillCold: number;
  gain: number;
}

export interface Plan {
  keepAlive: KeepAliveChoice;
  spare?: SpareChoice;
  prewarm?: PrewarmChoice;
  onset?: OnsetChoice;
  gain: number;
}

export interface PlanInput {
  workerGaps: GapGroups;
  /** Workers kept for good (`min`): every burst finds them, so pre-warms serve the levels above. */
  keptWorkers: number;
  bursts: readonly Burst[];
  /** The oldest of `bursts` is the function's first: it began with no worker. */
  oldestBurstIsFirst: boolean;
  /** The decayed count of bursts, on the scale of the gaps' weights. */
  burstRate: number;
  economics: Economics;
  /** How long before the predicted arrival a pre-warmed worker must start (its cold start). */
  leadMs: number;
  keepAliveLimitMs: number;
  /**
   * Fewer (decayed) idle gaps or recent bursts than this, or less time watched than the
   * break-even (longer gaps cannot have been seen yet), and the keep-alive falls back to
   * break-even and nothing is pre-warmed.
   */
  minEvidence: number;
  /** How long the function has been watched. */
  watchedMs: number;
  /** A plan with a pre-warm must gain this share more than the best keep-alive alone. */
  prewarmPremium: number;
  /** The bursts are periodic: windows hug their intervals instead of taking a relative margin. */
  periodic: boolean;
  /** Relative margin either side of a window when the bursts are not periodic. */
  windowMargin: number;
  /** Per number of spare workers n (from 1), the share of arrivals within one cold start of the n-th before them: how often n spares are outrun. */
  crowdedShares: readonly number[];
  /** The time the gaps' decayed weights stand for: a spare is held all of it. */
  weightSpanMs: number;
  /** The keep-alive in force: kept unless another gains at least `minImprovement` more. */
  currentKeepAliveMs?: number;
  minImprovement: number;
}

export function plan(input: PlanInput): Plan {
  const candidates = keepAliveCandidates(input);
  let bestKeepOnly: Plan = { keepAlive: candidates[0]!, gain: candidates[0]!.gain };
  if (candidates[0]!.basis === 'break-even') return bestKeepOnly;
  for (const candidate of candidates) {
    const spared = withSpare(candidate, input);
    if (spared.gain > bestKeepOnly.gain) bestKeepOnly = spared;
  }
  const keepOnly = unlessBarelyBetter(bestKeepOnly, input);
  if (input.bursts.length < input.minEvidence) return keepOnly;
  const bursts: BurstSummary = {
    rampMs: median(input.bursts.map((burst) => burst.rampMs)),
    lulls: [...new Set(input.bursts.map((burst) => burst.lullMs))].sort((a, b) => a - b),
    share: input.burstRate / input.bursts.length,
  };
  let best: Plan | undefined;
  const consider = (candidate: Plan | undefined): void => {
    if (candidate !== undefined && (best === undefined || candidate.gain > best.gain)) best = candidate;
  };
  for (const window of prewarmWindows(input, bursts)) {
    const withWindow = bestWithPrewarm(window, candidates, input, bursts);
    // Armed first: an onset that the window leaves nothing to do for costs nothing, and still serves a burst that comes early.
    consider(withOnset(withWindow, input, bursts));
    consider(withWindow);
  }
  for (const keepAlive of candidates) consider(withOnset({ keepAlive, gain: keepAlive.gain }, input, bursts));
  // A pre-warm bets on a prediction where a keep-alive only waits: it must beat the best keep-alive (not the one hysteresis holds) by the premium.
  const premium = input.prewarmPremium * Math.abs(bestKeepOnly.gain);
  return best !== undefined && (best as Plan).gain > bestKeepOnly.gain + premium ? best : keepOnly;
}

/** The plan with an onset pre-warm added; undefined when no worker started at a burst's onset would pay. */
function withOnset(base: Plan | undefined, input: PlanInput, bursts: BurstSummary): Plan | undefined {
  const onset = base === undefined ? undefined : onsetGain(base, input, bursts);
  return onset === undefined ? undefined : { ...base!, onset, gain: base!.gain + onset.gain };
}

/** The keep-alive in force, when the best one would not gain `minImprovement` more: estimates wobble, settings need not. */
function unlessBarelyBetter(best: Plan, input: PlanInput): Plan {
  const current = input.currentKeepAliveMs;
  if (current === undefined || current === best.keepAlive.keepAliveMs) return best;
  const kept = withSpare(keepAliveAt(current, input), input);
  return best.gain - kept.gain <= input.minImprovement * Math.abs(best.gain) ? kept : best;
}

/**
 * A keep-alive with the spare workers that gain most beside it, if any: each spare costs a
 * worker idle all the time and turns the misses the keep-alive leaves into warm starts,
 * except those outrun (n spares are, when n requests came within one cold start).
 */
function withSpare(keepAlive: KeepAliveChoice, { crowdedShares, weightSpanMs, economics }: PlanInput): Plan {
  let best: Plan = { keepAlive, gain: keepAlive.gain };
  crowdedShares.forEach((stillCold, i) => {
    const workers = i + 1;
    const gain = keepAlive.missedLatencyCost * (1 - stillCold) - economics.idleCostPerMs * weightSpanMs * workers;
    if (keepAlive.gain + gain > best.gain) best = { keepAlive, spare: { workers, stillCold, gain }, gain: keepAlive.gain + gain };
  });
  return best;
}

/** The keep-alive that holds a worker exactly as long as one cold start (its wait and its start) is worth: within 2× of the best choice whatever the gaps (ski rental). */
export function breakEvenMs(economics: Pick<Economics, 'coldStartCost' | 'startCost' | 'idleCostPerMs'>): number {
  return (economics.coldStartCost + economics.startCost) / economics.idleCostPerMs;
}

/** The gap cells of both groups, ascending, each with what missing it costs: the request's wait, and a start. */
function pricedCells({ workerGaps, economics }: PlanInput): (Cell & { latencyCost: number; missCost: number })[] {
  const priced = (latencyCost: number) => (cell: Cell) => ({ ...cell, latencyCost, missCost: latencyCost + economics.startCost });
  return [...workerGaps.last.map(priced(economics.coldStartCost)), ...workerGaps.others.map(priced(economics.missWhileBusyCost))].sort((a, b) => a.hi - b.hi);
}

/** The gain of any keep-alive: gaps in cells that end within it are caught, the others pay it in full. */
function keepAliveAt(keepAliveMs: number, input: PlanInput): KeepAliveChoice {
  const cells = pricedCells(input);
  const { idleCostPerMs } = input.economics;
  const total = cells.reduce((sum, cell) => sum + cell.weight, 0);
  let caughtWeight = 0;
  let gain = 0;
  let missedLatencyCost = 0;
  for (const cell of cells) {
    if (cell.hi > keepAliveMs) {
      missedLatencyCost += cell.weight * cell.latencyCost;
      continue;
    }
    caughtWeight += cell.weight;
    gain += cell.weight * (cell.missCost - idleCostPerMs * cell.mean);
  }
  return { keepAliveMs, gain: gain - idleCostPerMs * keepAliveMs * (total - caughtWeight), caught: total === 0 ? 0 : caughtWeight / total, missedLatencyCost, basis: 'fitted' };
}

/** Keep-alive 0 and every gap cell's upper edge up to the limit, ascending, with their gains. */
function keepAliveCandidates(input: PlanInput): KeepAliveChoice[] {
  const { economics, keepAliveLimitMs, minEvidence, watchedMs } = input;
  const { idleCostPerMs } = economics;
  const cells = pricedCells(input);
  const total = cells.reduce((sum, cell) => sum + cell.weight, 0);
  if (total < minEvidence || watchedMs < breakEvenMs(economics)) {
    return [{ keepAliveMs: Math.min(breakEvenMs(economics), keepAliveLimitMs), gain: 0, caught: 0, missedLatencyCost: 0, basis: 'break-even' }];
  }
  const totalLatencyCost = cells.reduce((sum, cell) => sum + cell.weight * cell.latencyCost, 0);
  const candidates: KeepAliveChoice[] = [{ keepAliveMs: 0, gain: 0, caught: 0, missedLatencyCost: totalLatencyCost, basis: 'fitted' }];
  let caughtWeight = 0;
  let caughtGain = 0;
  let caughtLatencyCost = 0;
  cells.forEach((cell, i) => {
    if (cell.hi > keepAliveLimitMs) return;
    caughtWeight += cell.weight;
    caughtGain += cell.weight * (cell.missCost - idleCostPerMs * cell.mean);
    caughtLatencyCost += cell.weight * cell.latencyCost;
    if (cells[i + 1]?.hi === cell.hi) return;
    const k = cell.hi;
    candidates.push({ keepAliveMs: k, gain: caughtGain - idleCostPerMs * k * (total - caughtWeight), caught: caughtWeight / total, missedLatencyCost: totalLatencyCost - caughtLatencyCost, basis: 'fitted' });
  });
  return candidates;
}

interface Window {
  fromMs: number;
  untilMs: number;
}

/** What every window's evaluation needs from the recent bursts, computed once per plan. */
interface BurstSummary {
  /** Median time from a burst's start to its peak: pre-warmed workers are held that much longer. */
  rampMs: number;
  /** Distinct lulls, ascending. */
  lulls: number[];
  /** The decayed count of bursts each recent burst stands for. */
  share: number;
}

/**
 * Windows that open before one recent burst interval and close after another (and after
 * the ramp to the peak). A timer's intervals are trusted to half a second or 1% of the
 * period (the trace's timers are not to the millisecond); other intervals only to the
 * relative margin, so that a window is not fitted to the few bursts it has seen.
 */
function prewarmWindows({ bursts, leadMs, periodic, windowMargin }: PlanInput, { rampMs }: BurstSummary): Window[] {
  const intervals = [...new Set(bursts.map((burst) => burst.intervalMs))].sort((a, b) => a - b);
  const timerSlack = Math.max(500, 0.01 * median(intervals));
  const slack = (interval: number): number => (periodic ? timerSlack : windowMargin * interval);
  const windows: Window[] = [];
  intervals.forEach((first, i) => {
    for (const last of intervals.slice(i)) windows.push({ fromMs: Math.max(0, first - slack(first) - leadMs), untilMs: last + slack(last) + rampMs });
  });
  return windows;
}

/**
 * The best keep-alive (no longer than the window's opening) to go with this pre-warm
 * window. The pre-warm's gain only changes where the keep-alive passes a burst's lull, so
 * it is computed once per stretch between lulls, against the best keep-alive in that stretch.
 */
function bestWithPrewarm(window: Window, candidates: KeepAliveChoice[], input: PlanInput, bursts: BurstSummary): Plan | undefined {
  const { lulls } = bursts;
  let best: Plan | undefined;
  let next = 0;
  for (let stretch = 0; stretch <= lulls.length; stretch++) {
    const upTo = Math.min(stretch < lulls.length ? lulls[stretch]! : Infinity, window.fromMs);
    let keepAlive: KeepAliveChoice | undefined;
    for (; next < candidates.length && candidates[next]!.keepAliveMs < upTo; next++) {
      if (keepAlive === undefined || candidates[next]!.gain > keepAlive.gain) keepAlive = candidates[next]!;
    }
    if (keepAlive === undefined) continue;
    const prewarm = prewarmGain(window, keepAlive.keepAliveMs, input, bursts);
    if (prewarm !== undefined && (best === undefined || keepAlive.gain + prewarm.gain > best.gain)) best = { keepAlive, prewarm, gain: keepAlive.gain + prewarm.gain };
  }
  return best;
}

/** What pre-warming over `window` would have earned over the recent bursts, with the best number of workers; undefined when no worker pays or too few bursts back it. */
function prewarmGain(window: Window, keepAliveMs: number, { bursts, burstRate, economics, leadMs, minEvidence, keptWorkers }: PlanInput, { share, rampMs }: BurstSummary): PrewarmChoice | undefined {
  let held = 0;
  const caught: { peak: number; weight: number }[] = [];
  for (const burst of bursts) {
    // Overtaken by the burst's own arrivals, or the kept worker is still there: no pre-warm.
    if (burst.durationMs >= window.fromMs || burst.lullMs <= keepAliveMs) continue;
    if (prewarmCatches(window, burst, leadMs)) {
      if (burst.peak > keptWorkers) caught.push({ peak: burst.peak - keptWorkers, weight: share });
      held += share * (burst.intervalMs - window.fromMs + rampMs / 2);
    } else if (burst.intervalMs > window.untilMs) {
      held += share * (window.untilMs - window.fromMs);
    }
  }
  // A window around one or two past bursts fits the sample, not the function.
  if (caught.length < minEvidence) return undefined;
  const { workers, gain } = workersWorthIt(caught, held, economics.coldStartCost, economics.idleCostPerMs);
  if (workers === 0) return undefined;
  const hitRate = caught.reduce((sum, burst) => sum + burst.weight, 0) / burstRate;
  return { fromMs: window.fromMs, untilMs: window.untilMs, workers, gain, hitRate };
}

/**
 * Workers started at a burst's first arrival and held over its ramp (plus one worker start).
 * How many: as many as pay for themselves over the recent bursts that began after a lull
 * longer than the keep-alive (no kept worker waiting), worker number j serving the (j + 1)th
 * request in flight, which would otherwise miss while the others run; a burst that peaks
 * within one worker start gains nothing, its requests are in before a worker is. What it
 * adds to the plan: its value over the bursts the pre-warm window also missed (the rest found
 * pre-warmed workers idle, which count towards it). Armed even when the window caught every
 * recent burst, since a burst that comes a moment early finds nobody waiting. Each recent
 * burst's record describes the burst and the wait for the next one, so how burst i began is
 * read from the record before it; the function's first burst began with no worker.
 */
function onsetGain(base: Plan, input: PlanInput, { share }: BurstSummary): OnsetChoice | undefined {
  const { bursts, leadMs, economics, minEvidence, burstRate } = input;
  // Indexes of the bursts that began after a lull no kept worker waited through.
  const afterLullAt = bursts.flatMap((_, i) => ((i === 0 ? input.oldestBurstIsFirst : bursts[i - 1]!.lullMs > base.keepAlive.keepAliveMs) ? [i] : []));
  const afterLull = afterLullAt.map((i) => bursts[i]!);
  if (afterLull.length < minEvidence) return undefined;
  const untilMs = median(afterLull.map((burst) => burst.rampMs)) + leadMs;
  // The first arrival starts or finds a worker of its own, as do the first `keptWorkers`.
  const below = Math.max(1, input.keptWorkers);
  const servable = (burst: Burst): { peak: number; weight: number }[] => (burst.rampMs > leadMs && burst.peak > below ? [{ peak: burst.peak - below, weight: share }] : []);
  const { workers } = workersWorthIt(afterLull.flatMap(servable), share * afterLull.length * untilMs, economics.missWhileBusyCost, economics.idleCostPerMs);
  if (workers === 0) return undefined;
  const { prewarm } = base;
  const missed = afterLullAt.filter((i) => i === 0 || prewarm === undefined || !prewarmCatches(prewarm, bursts[i - 1]!, leadMs)).map((i) => bursts[i]!);
  const served = missed.flatMap(servable).reduce((sum, burst) => sum + burst.weight * Math.min(workers, burst.peak), 0);
  const gain = economics.missWhileBusyCost * served - economics.idleCostPerMs * share * missed.length * untilMs * workers;
  return { untilMs, workers, gain, hitRate: (missed.length * share) / burstRate };
}

/** Whether a pre-warm window after this burst had a worker ready when the next one began. */
function prewarmCatches(window: Pick<PrewarmChoice, 'fromMs' | 'untilMs'>, burst: Burst, leadMs: number): boolean {
  return burst.durationMs < window.fromMs && burst.intervalMs >= window.fromMs + leadMs && burst.intervalMs <= window.untilMs;
}

/**
 * Pre-warmed worker number j earns a missed start for each caught burst that reaches j in
 * flight, and costs the hold whatever happens. Adds workers while the next one earns more
 * than it costs.
 */
function workersWorthIt(caught: { peak: number; weight: number }[], held: number, missCost: number, idleCostPerMs: number): { workers: number; gain: number } {
  const byPeak = [...caught].sort((a, b) => b.peak - a.peak);
  let reaching = byPeak.reduce((sum, burst) => sum + burst.weight, 0);
  let workers = 0;
  let gain = 0;
  for (let i = byPeak.length - 1; i >= 0; i--) {
    // Levels (the next lower peak, this peak] are reached by the bursts from here up.
    const levels = byPeak[i]!.peak - (i + 1 < byPeak.length ? byPeak[i + 1]!.peak : 0);
    const value = missCost * reaching - idleCostPerMs * held;
    if (value <= 0) break;
    workers += levels;
    gain += levels * value;
    reaching -= byPeak[i]!.weight;
  }
  return { workers, gain };
}
