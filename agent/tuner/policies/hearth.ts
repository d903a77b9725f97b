// Hearth's own pool policy: per function, the settings that minimise
//
//   expected cost = cold starts × cold-start ms × latency price + idle worker MB·s × memory price
//
// from what the function does (per-worker idle gaps, intervals between bursts, each burst's
// peak concurrency, arrival rate and execution time) and what its workers cost (measured
// cold-start phases, private memory). `min` covers the load that is always there (Little's
// law) and the ramp of a burst; the keep-alive and the pre-warm come from the cost model in
// hearth/plan.ts; hysteresis and rollback from guard.ts. POLICY.md explains the model.
// Internally all times are trace time (the caller's clock × compression).

import { formatDuration, percent, round } from '../format.js';
import { DecisionGuard } from './guard.js';
import { BurstTracker } from './hearth/bursts.js';
import { ArrivalCrowding, ArrivalRate, ConcurrencySamples, DurationEstimate } from './hearth/load.js';
import { breakEvenMs, type Economics, plan, type Plan } from './hearth/plan.js';
import { WorkerGaps } from './hearth/worker-gaps.js';
import { coldStartTotalMs, type FunctionProfile, type PoolDecision, type PoolEvent, type PoolPolicy, type Prewarm, ProfileBook, samePrewarm } from './policy.js';

export interface HearthOptions {
  /** Trace time per clock time (1 for the live runtime). */
  compression?: number;
  /** Price of one millisecond of cold start paid by one request. */
  latencyPricePerMs?: number;
  /** Price of one MB held by an idle worker for one second. */
  memoryPricePerMbSecond?: number;
  /** A CPU core priced as this much memory: a worker start, which keeps a core busy about as long as it takes, costs the host that. */
  coreAsMb?: number;
  /** Samples of idle gaps and burst intervals lose half their weight in this long. */
  halfLifeMs?: number;
  /** A pause in arrivals this long ends a burst. */
  lullMs?: number;
  /** `min` keeps the concurrency held over this window... */
  steadyWindowMs?: number;
  /** ...for at least this share of it. */
  minBusyShare?: number;
  stableWindowMs?: number;
  panicWindowMs?: number;
  /** The panic window's rate must exceed the stable one's by this factor to count as a burst. */
  panicRatio?: number;
  minTolerance?: number;
  keepAliveTolerance?: number;
  scaleDownAfterMs?: number;
  keepAliveLimitMs?: number;
  /** Decayed idle gaps needed before the keep-alive is fitted to them. */
  minEvidence?: number;
  replanEveryMs?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  recentBursts?: number;
  periodTolerance?: number;
  /** A plan with a pre-warm must gain this share more than the best keep-alive alone. */
  prewarmPremium?: number;
  /** Relative margin either side of a pre-warm window when the bursts are not periodic. */
  windowMargin?: number;
  /** A new keep-alive must raise the expected gain by this share of it. */
  minImprovement?: number;
}

/** Defaults; POLICY.md gives the reason for each. Durations are trace time. */
export const HEARTH_DEFAULTS: Required<HearthOptions> = {
  compression: 1,
  latencyPricePerMs: 1,
  memoryPricePerMbSecond: 1 / 122_880,
  coreAsMb: 1769,
  halfLifeMs: 2 * 3_600_000,
  lullMs: 60_000,
  steadyWindowMs: 10 * 60_000,
  minBusyShare: 0.5,
  stableWindowMs: 60_000,
  panicWindowMs: 6_000,
  panicRatio: 2,
  minTolerance: 0.1,
  keepAliveTolerance: 0.25,
  scaleDownAfterMs: 60_000,
  keepAliveLimitMs: 4 * 3_600_000,
  minEvidence: 3,
  replanEveryMs: 60_000,
  backoffMs: 30 * 60_000,
  maxBackoffMs: 8 * 3_600_000,
  recentBursts: 16,
  periodTolerance: 0.25,
  prewarmPremium: 0.1,
  windowMargin: 0.1,
  minImprovement: 0.05,
};

/** Until the agent has measured a function, assume the manifest's default memory limit and a slow start. */
const ASSUMED_PROFILE: Omit<FunctionProfile, 'maxWorkers'> = { coldStartMs: { ready: 100 }, memoryMb: 512 };
const RATE_BUCKET_MS = 1000;
/** The most spare workers a plan weighs: each more is outrun only when one more request crowds into a cold start. */
const MAX_SPARE = 4;

/** What a function's workers cost, from its profile. */
interface Costs {
  /** A cold start and a trace ms of idle worker, priced; a miss while busy is priced when planning, from the execution time then. */
  prices: Pick<Economics, 'coldStartCost' | 'startCost' | 'idleCostPerMs'>;
  coldStartMs: number;
  /** A pre-warmed worker starts this long (trace time) before it is needed. */
  leadMs: number;
  memoryMb: number;
  maxWorkers: number;
}

type MinBasis = 'burst' | 'steady' | 'kept' | 'prewarmed' | 'idle';

/** The pre-warm a decision carries: for the burst under way (onset), or for the next one. */
interface PendingPrewarm {
  kind: 'onset' | 'next burst';
  prewarm: Prewarm;
}

interface FunctionState {
  costs: Costs;
  gaps: WorkerGaps;
  bursts: BurstTracker;
  rate: ArrivalRate;
  crowding: ArrivalCrowding;
  concurrency: ConcurrencySamples;
  duration: DurationEstimate;
  guard: DecisionGuard;
  /** When the function was first seen (trace time). */
  since: number | undefined;
  plan: Plan | undefined;
  plannedAt: number;
  replanNow: boolean;
  /** Load figures and the concurrency held half the time, refreshed once per rate bucket. */
  load: { bucket: number; concurrencyHeld: number; arrivalsPerMs: number; stablePerMs: number; panicPerMs: number };
  /** Workers, from the last one up, whose idle gaps are short enough on average to keep them for good, judged with each plan. */
  keptLevels: number;
  min: number;
  last: PoolDecision | undefined;
  /** The plan `last` was explained from. */
  explained: Plan | undefined;
}

export class HearthPolicy implements PoolPolicy {
  readonly name = 'hearth';
  private readonly options: Required<HearthOptions>;
  private readonly functions = new Map<string, FunctionState>();
  private readonly profiles = new ProfileBook();

  constructor(options: HearthOptions = {}) {
    this.options = { ...HEARTH_DEFAULTS, ...options };
  }

  observe(event: PoolEvent): void {
    this.profiles.observe(event);
    const state = this.state(event.function);
    const at = event.at * this.options.compression;
    switch (event.kind) {
      case 'arrival':
        state.since ??= at;
        state.rate.record(at);
        state.crowding.record(at, state.costs.leadMs);
        state.gaps.arrival(at);
        state.concurrency.change(at, state.gaps.inFlight);
        if (state.bursts.arrival(at, state.gaps.inFlight)) state.replanNow = true;
        break;
      case 'end':
        state.duration.record(event.durationMs * this.options.compression);
        state.gaps.end(at);
        state.concurrency.change(at, state.gaps.inFlight);
        break;
      case 'regression':
        state.guard.rollback(event.at, event.detail);
        break;
      case 'profile':
        state.costs = this.costs(event.function);
        state.replanNow = true;
        break;
    }
  }

  decide(functionName: string, now: number): PoolDecision {
    const { compression } = this.options;
    const state = this.state(functionName);
    const at = now * compression;
    const current = this.currentPlan(state, at);
    const target = this.minTarget(state, at, current.prewarm !== undefined || current.onset !== undefined);
    const settled = state.guard.settle({ min: target.min, keepAliveMs: current.keepAlive.keepAliveMs / compression, spare: this.spareTarget(state, current, at) }, now);
    state.min = settled.settings.min;
    const pending = settled.frozen === undefined ? this.prewarm(state, current, at) : undefined;
    const prewarm = pending?.prewarm;
    const { maxWorkers } = state.costs;
    const last = state.last;
    // Same settings from the same plan: the same decision, reason and inputs included (a new plan refreshes them).
    const { keepAliveMs, spare } = settled.settings;
    const unchanged = last !== undefined && state.explained === current && last.min === state.min && last.keepAliveMs === keepAliveMs && last.spare === spare && last.max === maxWorkers && samePrewarm(last.prewarm, prewarm);
    if (unchanged) return last;
    state.explained = current;
    state.last = {
      function: functionName,
      policy: this.name,
      at: now,
      min: state.min,
      max: maxWorkers,
      keepAliveMs,
      spare,
      ...(prewarm === undefined ? {} : { prewarm }),
      reason: [this.minReason(state, target), keepAliveReason(current, state.costs.prices, compression), spareReason(current, spare), prewarmReason(current, state, pending, compression), onsetReason(current, pending, compression), settled.frozen]
        .filter((part) => part !== undefined)
        .join('; '),
      inputs: this.inputs(state, target.min, current, settled.frozen !== undefined),
    };
    return state.last;
  }

  /**
   * Workers to keep whatever happens. Steady load: the concurrency held at least half of
   * the steady window (for steady independent arrivals about the mean, i.e. arrival rate ×
   * execution time by Little's law), unless the function comes in bursts that a pre-warm
   * serves more cheaply than workers kept through the gaps. Burst (the panic window's rate
   * well above the stable one's): what is in flight plus the surge, the requests that will
   * arrive and still be running by the time a worker started now is ready, with the
   * tolerance on top so that the next step is not needed at once.
   */
  private minTarget(state: FunctionState, at: number, prewarmed: boolean): { min: number; basis: MinBasis } {
    const { steadyWindowMs, minBusyShare, stableWindowMs, panicWindowMs, panicRatio, minTolerance } = this.options;
    const bucket = Math.floor(at / RATE_BUCKET_MS);
    if (state.load.bucket !== bucket) {
      state.load = {
        bucket,
        concurrencyHeld: state.concurrency.busyAtLeast(at, minBusyShare),
        arrivalsPerMs: state.rate.perMs(at, steadyWindowMs / RATE_BUCKET_MS),
        stablePerMs: state.rate.perMs(at, stableWindowMs / RATE_BUCKET_MS),
        panicPerMs: state.rate.perMs(at, panicWindowMs / RATE_BUCKET_MS),
      };
    }
    const { stablePerMs, panicPerMs } = state.load;
    const steady = Math.max(prewarmed ? 0 : state.load.concurrencyHeld, state.keptLevels);
    const surge = this.surge(state);
    // Headroom pays only when the surge keeps at least one more request busy than a worker start takes; below that, starting on demand costs as much.
    const bursting = surge >= 1 && panicPerMs >= panicRatio * stablePerMs;
    const burst = bursting ? Math.ceil((state.gaps.inFlight + surge) * (1 + minTolerance)) : 0;
    const min = Math.min(state.costs.maxWorkers, Math.max(steady, burst));
    if (burst > steady) return { min, basis: 'burst' };
    if (steady > state.load.concurrencyHeld) return { min, basis: 'kept' };
    if (steady > 0) return { min, basis: 'steady' };
    return { min, basis: prewarmed ? 'prewarmed' : 'idle' };
  }

  /**
   * Keep workers for good, from the last one up, while their idle gaps are on average
   * shorter than what missing them is worth in idle time: then holding one through every gap
   * costs less than the cold starts it saves. The last worker's miss costs a cold start, the
   * others' a miss while busy. A worker idle now for that long, or for the keep-alive limit,
   * is let go.
   */
  private levelsKeptForGood(state: FunctionState, at: number): { levels: number; gain: number } {
    const { prices } = state.costs;
    const busyBreakEven = (this.missWhileBusyCost(state) + prices.startCost) / prices.idleCostPerMs;
    const breakEven = (level: number): number => (level === 1 ? breakEvenMs(prices) : busyBreakEven);
    const kept = state.gaps.levelsWorthKeeping(at, this.options.minEvidence, breakEven, this.options.keepAliveLimitMs, state.load.concurrencyHeld);
    return { levels: kept.levels, gain: kept.gainMs * prices.idleCostPerMs };
  }

  /**
   * The plan's spare workers, until the function has had no arrival for as long as a cold
   * start is worth (or the keep-alive limit): a load that has stopped is not waited for
   * longer than that, as a worker kept for good is not.
   */
  private spareTarget(state: FunctionState, current: Plan, at: number): number {
    const idleMs = at - (state.bursts.lastArrival ?? at);
    return idleMs >= Math.min(breakEvenMs(state.costs.prices), this.options.keepAliveLimitMs) ? 0 : (current.spare?.workers ?? 0);
  }

  /** A request that finds no idle worker while others run takes whichever comes first, a new worker or a busy one freeing up. */
  private missWhileBusyCost(state: FunctionState): number {
    return this.options.latencyPricePerMs * Math.min(state.costs.coldStartMs, state.duration.ms / this.options.compression);
  }

  /** Requests arriving at the panic rate that will still be running when a worker started now is ready: λ × min(cold start, execution time). */
  private surge(state: FunctionState): number {
    return state.load.panicPerMs * Math.min(state.costs.leadMs, state.duration.ms);
  }

  private minReason(state: FunctionState, target: { min: number; basis: MinBasis }): string {
    const { compression, minBusyShare, steadyWindowMs } = this.options;
    const { arrivalsPerMs, panicPerMs } = state.load;
    const perSecond = (perTraceMs: number): string => `${round(perTraceMs * 1000 * compression)}/s`;
    switch (target.basis) {
      case 'burst':
        return `min ${target.min}: burst of ${perSecond(panicPerMs)}, ${state.gaps.inFlight} in flight and ${round(this.surge(state))} more running before a new worker could start`;
      case 'steady': {
        const littlesLaw = `${perSecond(arrivalsPerMs)} × ${formatDuration(state.duration.ms / compression)} = ${round(arrivalsPerMs * state.duration.ms)}`;
        return `min ${target.min}: at least ${target.min} in flight ${percent(minBusyShare)} of the last ${formatDuration(steadyWindowMs / compression)} (Little's law: ${littlesLaw})`;
      }
      case 'kept':
        return `min ${target.min}: the ${target.min} most recently used workers' idle gaps are on average shorter than missing them is worth, so they are kept for good`;
      case 'prewarmed':
        return 'min 0: its bursts are pre-warmed';
      case 'idle':
        return 'min 0: no steady load';
    }
  }

  private inputs(state: FunctionState, minTarget: number, current: Plan, frozen: boolean): PoolDecision['inputs'] {
    const { compression, latencyPricePerMs, memoryPricePerMbSecond } = this.options;
    const { load, costs } = state;
    return {
      arrivalsPerSecond: round(load.arrivalsPerMs * 1000 * compression),
      panicArrivalsPerSecond: round(load.panicPerMs * 1000 * compression),
      durationMs: round(state.duration.ms / compression),
      littlesLawConcurrency: round(load.arrivalsPerMs * state.duration.ms),
      inFlight: state.gaps.inFlight,
      minTarget,
      coldStartMs: round(costs.coldStartMs),
      memoryMb: round(costs.memoryMb),
      latencyPricePerMs,
      memoryPricePerMbSecond: round(memoryPricePerMbSecond),
      breakEvenMs: round(breakEvenMs(costs.prices) / compression),
      keepAliveBasis: current.keepAlive.basis,
      gapsCaught: round(current.keepAlive.caught),
      spareStillCold: round(current.spare?.stillCold ?? 0),
      expectedGain: round(current.gain),
      periodMs: round((state.bursts.period()?.periodMs ?? 0) / compression),
      frozen,
    };
  }

  private currentPlan(state: FunctionState, at: number): Plan {
    if (state.plan !== undefined && !state.replanNow && at - state.plannedAt < this.options.replanEveryMs) return state.plan;
    const { prices } = state.costs;
    // Only a fitted keep-alive is held on to; the break-even one is a stopgap.
    const currentKeepAliveMs = state.last === undefined || state.plan?.keepAlive.basis !== 'fitted' ? undefined : state.last.keepAliveMs * this.options.compression;
    // The gaps of the levels `min` keeps are left out (the last worker's, unless kept for good, still price keep-alive against pre-warm).
    const planAbove = (minWorkers: number, keptWorkers: number): Plan => plan({
      workerGaps: state.gaps.groups(at, minWorkers),
      keptWorkers,
      bursts: state.bursts.bursts,
      oldestBurstIsFirst: state.bursts.oldestIsFirst,
      burstRate: state.bursts.rate(at),
      economics: { ...prices, missWhileBusyCost: this.missWhileBusyCost(state) },
      leadMs: state.costs.leadMs,
      keepAliveLimitMs: this.options.keepAliveLimitMs,
      minEvidence: this.options.minEvidence,
      watchedMs: at - (state.since ?? at),
      crowdedShares: state.crowding.shares(),
      weightSpanMs: decayedSpanMs(at - (state.since ?? at), this.options.halfLifeMs),
      prewarmPremium: this.options.prewarmPremium,
      periodic: state.bursts.period() !== undefined,
      windowMargin: this.options.windowMargin,
      minImprovement: this.options.minImprovement,
      ...(currentKeepAliveMs === undefined ? {} : { currentKeepAliveMs }),
    });
    const held = state.load.concurrencyHeld;
    const kept = this.levelsKeptForGood(state, at);
    state.plan = planAbove(held, 0);
    state.keptLevels = 0;
    if (kept.levels > held) {
      // Kept for good only where that gains more than the keep-alive and pre-warms would on the same workers' gaps.
      const withKept = planAbove(kept.levels, kept.levels);
      if (withKept.gain + kept.gain > state.plan.gain) [state.plan, state.keptLevels] = [withKept, kept.levels];
    }
    state.plannedAt = at;
    state.replanNow = false;
    return state.plan;
  }

  /**
   * While the current burst ramps up, the plan's onset pre-warm (from the burst's first
   * arrival); after that, its pre-warm for the next burst, while that is still ahead, no
   * arrival has overtaken it, and `min` does not already cover it.
   */
  private prewarm(state: FunctionState, current: Plan, at: number): PendingPrewarm | undefined {
    const start = state.bursts.startMs;
    const lastArrival = state.bursts.lastArrival;
    if (start === undefined || lastArrival === undefined) return undefined;
    const { compression } = this.options;
    const onset = current.onset;
    // Counted as the runtime counts a pool's workers: the first arrival's, or those kept for good, included.
    const onsetWorkers = onset === undefined ? 0 : onset.workers + Math.max(1, state.keptLevels);
    if (onset !== undefined && at < start + onset.untilMs && onsetWorkers > state.min) {
      return { kind: 'onset', prewarm: { atMs: start / compression, untilMs: (start + onset.untilMs) / compression, workers: onsetWorkers } };
    }
    if (current.prewarm === undefined) return undefined;
    const from = start + current.prewarm.fromMs;
    const until = start + current.prewarm.untilMs;
    const workers = current.prewarm.workers + state.keptLevels;
    if (workers <= state.min || until <= at || from <= lastArrival) return undefined;
    return { kind: 'next burst', prewarm: { atMs: from / compression, untilMs: until / compression, workers } };
  }

  private costs(functionName: string): Costs {
    const profile = { ...ASSUMED_PROFILE, ...this.profiles.get(functionName) };
    const coldStartMs = coldStartTotalMs(profile.coldStartMs);
    const leadMs = coldStartMs * this.options.compression;
    const { latencyPricePerMs, memoryPricePerMbSecond, coreAsMb } = this.options;
    return {
      prices: {
        coldStartCost: latencyPricePerMs * coldStartMs,
        // A start holds a core, priced as `coreAsMb` of memory, for as long as it takes, on the same (trace) clock as idle workers.
        startCost: (memoryPricePerMbSecond * coreAsMb * leadMs) / 1000,
        idleCostPerMs: (memoryPricePerMbSecond * profile.memoryMb) / 1000,
      },
      coldStartMs,
      leadMs,
      memoryMb: profile.memoryMb,
      maxWorkers: this.profiles.maxWorkers(functionName),
    };
  }

  private state(functionName: string): FunctionState {
    let state = this.functions.get(functionName);
    if (state === undefined) {
      const o = this.options;
      const clock = (traceMs: number): number => traceMs / o.compression;
      state = {
        costs: this.costs(functionName),
        gaps: new WorkerGaps(o.halfLifeMs),
        bursts: new BurstTracker({ lullMs: o.lullMs, halfLifeMs: o.halfLifeMs, recent: o.recentBursts, periodTolerance: o.periodTolerance }),
        rate: new ArrivalRate(RATE_BUCKET_MS, Math.ceil(o.steadyWindowMs / RATE_BUCKET_MS)),
        crowding: new ArrivalCrowding(MAX_SPARE, o.halfLifeMs),
        concurrency: new ConcurrencySamples(RATE_BUCKET_MS, Math.ceil(o.steadyWindowMs / RATE_BUCKET_MS)),
        duration: new DurationEstimate(),
        guard: new DecisionGuard({
          minTolerance: o.minTolerance,
          keepAliveTolerance: o.keepAliveTolerance,
          scaleDownAfterMs: clock(o.scaleDownAfterMs),
          backoffMs: clock(o.backoffMs),
          maxBackoffMs: clock(o.maxBackoffMs),
        }),
        since: undefined,
        plan: undefined,
        plannedAt: 0,
        replanNow: true,
        load: { bucket: -1, concurrencyHeld: 0, arrivalsPerMs: 0, stablePerMs: 0, panicPerMs: 0 },
        keptLevels: 0,
        min: 0,
        last: undefined,
        explained: undefined,
      };
      this.functions.set(functionName, state);
    }
    return state;
  }
}

/** How long samples taken over `watchedMs` count for, each weighing 1 halving every `halfLifeMs`: the time their decayed weights stand for. */
function decayedSpanMs(watchedMs: number, halfLifeMs: number): number {
  return (halfLifeMs / Math.LN2) * (1 - 2 ** (-watchedMs / halfLifeMs));
}

function spareReason({ spare: planned, keepAlive }: Plan, spare: number): string | undefined {
  if (planned === undefined) return undefined;
  if (spare === 0) return 'spare 0: no arrival for longer than a cold start is worth, so the spares planned are let go';
  const workers = spare === 1 ? '1 idle worker' : `${spare} idle workers`;
  return `spare ${spare}: ${workers} kept beyond those running, another started as one is taken, serves warm ${percent(1 - planned.stillCold)} of the ${percent(1 - keepAlive.caught)} of gaps the keep-alive misses`;
}

function keepAliveReason(current: Plan, prices: Costs['prices'], compression: number): string {
  const { keepAlive } = current;
  const keep = `keep-alive ${formatDuration(keepAlive.keepAliveMs / compression)}`;
  if (keepAlive.basis === 'break-even') return `${keep}: too few idle gaps yet, so hold a worker as long as one cold start is worth (${formatDuration(breakEvenMs(prices) / compression)})`;
  if (keepAlive.keepAliveMs === 0) return `${keep}: holding workers costs more than the cold starts it would save`;
  return `${keep}: catches ${percent(keepAlive.caught)} of worker idle gaps`;
}

function prewarmReason(current: Plan, state: FunctionState, pending: PendingPrewarm | undefined, compression: number): string | undefined {
  if (current.prewarm === undefined) return undefined;
  const prewarm = pending?.kind === 'next burst' ? pending.prewarm : undefined;
  const period = state.bursts.period();
  const basis = period === undefined ? 'burst intervals' : `periodic every ${formatDuration(period.periodMs / compression)}, recent intervals within ${formatDuration(period.rangeMs / compression)}`;
  const window = `${formatDuration(current.prewarm.fromMs / compression)} to ${formatDuration(current.prewarm.untilMs / compression)} after a burst starts`;
  const what = prewarm === undefined ? 'pre-warm planned but not pending' : `pre-warm ${prewarm.workers} worker${prewarm.workers === 1 ? '' : 's'}`;
  return `${what} ${window} (${basis}; ${percent(current.prewarm.hitRate)} of bursts start inside it)`;
}

function onsetReason(current: Plan, pending: PendingPrewarm | undefined, compression: number): string | undefined {
  const { onset } = current;
  if (onset === undefined) return undefined;
  const what = pending?.kind === 'onset' ? `burst under way: ${onset.workers} worker${onset.workers === 1 ? '' : 's'} held` : `at a burst's first arrival, start ${onset.workers} worker${onset.workers === 1 ? '' : 's'} held`;
  return `${what} ${formatDuration(onset.untilMs / compression)} while it ramps up (${percent(onset.hitRate)} of bursts come after a lull no worker waited through)`;
}
