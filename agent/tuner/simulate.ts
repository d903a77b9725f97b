// A discrete-event simulation of one host's pools under a pool policy: the trace's arrivals
// and sampled durations (replay.ts), the policy's decisions applied as the runtime applies
// them (simulated-pool.ts), and what that costs: cold starts, latency (execution, plus the
// cold start when one was paid, plus waiting when every worker was busy at `max`), and the
// memory held by idle workers. The clock is the replay clock: trace time divided by the
// compression factor. Cold-start cost is not compressed: it is what a start costs on the
// host that replays the trace.

import type { Phase } from '../../shared/phases.js';
import { EventQueue } from './event-queue.js';
import { LatencyHistogram } from './latency-histogram.js';
import { coldStartTotalMs, type PoolPolicy } from './policies/policy.js';
import { arrivalTimes, durationSampler, type ReplayOptions, TRACE_MINUTE_MS } from './replay.js';
import { type PoolCounters, type Request, type ScheduledEvent, SimulatedPool } from './simulated-pool.js';
import type { Trace } from './trace.js';

export interface SimulationOptions extends ReplayOptions {
  /** Measured cold-start cost per phase, ms. */
  coldStartMs: Partial<Record<Phase, number>>;
  /** Per function (by trace id), where its cold start was measured apart (workers holding different memory start at different speeds). */
  coldStartByFunction?: ReadonlyMap<string, Partial<Record<Phase, number>>>;
  /**
   * Per function, what the policy is told of it and from when, where that differs from what
   * the pool does: a live tuner prices the agent's phases (a request waits from the runtime's
   * spawn decision to ready), and reads them and its workers' memory again as more are
   * measured. Sorted by time; the last one at or before 0 is told first.
   */
  pricedProfiles?: ReadonlyMap<string, readonly TimedProfile[]>;
  /** Per function, the workers already idle at the start, each with when it became idle (replay ms, at most 0), as a live replay deploys its functions with a worker alive. */
  idleAtStart?: ReadonlyMap<string, readonly number[]>;
  /** How long a retired worker takes to stop, its memory held, ms (measured on the host that replays the trace); 0 by default. */
  stopMs?: number;
  /** Every function's `pool.max`; the manifest's upper bound by default, so that policies, not the bound, decide. */
  maxWorkers?: number;
  /** How often the policy is asked without an event, replay ms; one trace minute by default. */
  tickMs?: number;
  /**
   * Events reach the policy in batches this long, replay ms, as the runtime's event stream
   * hands them to the live tuner: a batch goes out this long after its first event, and the
   * policy decides once per batch for each function it concerns. 0 (the default): after every
   * event.
   */
  batchMs?: number;
}

/** What a policy is told of a function from `atMs` (replay ms) on. */
export interface TimedProfile {
  atMs: number;
  coldStartMs: Partial<Record<Phase, number>>;
  memoryMb: number;
}

export const SIMULATION_MAX_WORKERS = 1024;

type Counts = Omit<PoolCounters, 'latency' | 'waiting'>;

export interface FunctionResult extends Counts {
  function: string;
  p50Ms: number;
  p99Ms: number;
  p99WaitMs: number;
}

export interface SimulationResult {
  policy: string;
  invocations: number;
  coldStarts: number;
  coldStartRate: number;
  /** Latency percentiles, replay ms. */
  p50Ms: number;
  p99Ms: number;
  /** 99th percentile of the wait for a worker (cold start or queueing), replay ms. */
  p99WaitMs: number;
  queued: number;
  spawns: number;
  decisions: number;
  /** Idle worker memory, MB × replay seconds (× compression for trace time). */
  idleMbSeconds: number;
  perFunction: FunctionResult[];
}

type SimulatorEvent = ScheduledEvent | { kind: 'arrival'; pool: SimulatedPool; request: Request } | { kind: 'profile'; pool: SimulatedPool; profile: TimedProfile } | { kind: 'tick' } | { kind: 'batch' };

interface Source {
  pool: SimulatedPool;
  arrivals: Iterator<number>;
  duration: () => number;
}

export function simulate(trace: Trace, policy: PoolPolicy, options: SimulationOptions): SimulationResult {
  const queue = new EventQueue<SimulatorEvent>();
  const horizonMs = (trace.minutes * TRACE_MINUTE_MS) / options.compression;
  const tickMs = options.tickMs ?? TRACE_MINUTE_MS / options.compression;
  const maxWorkers = options.maxWorkers ?? SIMULATION_MAX_WORKERS;
  const schedule = (at: number, event: SimulatorEvent): void => queue.push(at, event);
  const tell = (fn: string, at: number, { coldStartMs, memoryMb }: Omit<TimedProfile, 'atMs'>): void => policy.observe({ kind: 'profile', function: fn, at, profile: { coldStartMs, memoryMb, maxWorkers } });
  const sources = trace.functions.map((fn): Source => {
    const phases = options.coldStartByFunction?.get(fn.id) ?? options.coldStartMs;
    const pool = new SimulatedPool({ name: fn.id, memoryMb: fn.memoryMb, coldStartMs: coldStartTotalMs(phases), stopMs: options.stopMs ?? 0, horizonMs, schedule });
    const told = options.pricedProfiles?.get(fn.id) ?? [];
    tell(fn.id, 0, told.findLast((profile) => profile.atMs <= 0) ?? { coldStartMs: phases, memoryMb: fn.memoryMb });
    for (const profile of told) if (profile.atMs > 0) schedule(profile.atMs, { kind: 'profile', pool, profile });
    for (const idleSince of options.idleAtStart?.get(fn.id) ?? []) pool.adoptIdle(Math.min(0, idleSince));
    return { pool, arrivals: arrivalTimes(fn, options), duration: durationSampler(fn, options) };
  });
  const byPool = new Map(sources.map((source) => [source.pool, source]));
  const decide = (pool: SimulatedPool, now: number): void => pool.apply(policy.decide(pool.name, now), now);
  const batchMs = options.batchMs ?? 0;
  const batched = new Set<SimulatedPool>();
  /** After an event of `pool`: decide now, or with the batch it joins. */
  const decided = (pool: SimulatedPool, now: number): void => {
    if (batchMs === 0) return decide(pool, now);
    if (batched.size === 0) schedule(now + batchMs, { kind: 'batch' });
    batched.add(pool);
  };
  const nextArrival = (source: Source): void => {
    const next = source.arrivals.next();
    if (!next.done) schedule(next.value, { kind: 'arrival', pool: source.pool, request: { arrival: next.value, durationMs: source.duration() } });
  };
  for (const source of sources) {
    decide(source.pool, 0);
    nextArrival(source);
  }
  schedule(tickMs, { kind: 'tick' });

  for (let item = queue.pop(); item !== undefined; item = queue.pop()) {
    const { at, event } = item;
    switch (event.kind) {
      case 'arrival':
        policy.observe({ kind: 'arrival', function: event.pool.name, at });
        event.pool.arrive(event.request, at);
        nextArrival(byPool.get(event.pool)!);
        decided(event.pool, at);
        break;
      case 'end':
        policy.observe({ kind: 'end', function: event.pool.name, at, durationMs: event.request.durationMs, cold: event.worker.readyAt > event.request.arrival });
        event.pool.end(event.worker, at);
        decided(event.pool, at);
        break;
      case 'batch':
        for (const pool of batched) decide(pool, at);
        batched.clear();
        break;
      case 'profile':
        tell(event.pool.name, at, event.profile);
        break;
      case 'ready':
        event.pool.ready(event.worker, at);
        break;
      case 'expire':
        event.pool.expire(event.worker, event.token, at);
        break;
      case 'prewarm':
        if (at <= horizonMs) event.pool.prewarm(event.token, at);
        break;
      case 'tick':
        for (const source of sources) decide(source.pool, at);
        if (at + tickMs < horizonMs) schedule(at + tickMs, event);
        break;
    }
  }
  for (const source of sources) source.pool.finish();
  return summarise(policy.name, sources.map((source) => source.pool));
}

function summarise(policy: string, pools: SimulatedPool[]): SimulationResult {
  const latency = new LatencyHistogram();
  const waiting = new LatencyHistogram();
  const perFunction = pools.map((pool): FunctionResult => {
    const { latency: poolLatency, waiting: poolWaiting, ...counts } = pool.counters;
    latency.add(poolLatency);
    waiting.add(poolWaiting);
    return { function: pool.name, ...counts, p50Ms: poolLatency.quantile(0.5), p99Ms: poolLatency.quantile(0.99), p99WaitMs: poolWaiting.quantile(0.99) };
  });
  const sum = (field: keyof Counts): number => perFunction.reduce((total, result) => total + result[field], 0);
  const invocations = sum('invocations');
  return {
    policy,
    invocations,
    coldStarts: sum('coldStarts'),
    coldStartRate: invocations === 0 ? 0 : sum('coldStarts') / invocations,
    p50Ms: latency.quantile(0.5),
    p99Ms: latency.quantile(0.99),
    p99WaitMs: waiting.quantile(0.99),
    queued: sum('queued'),
    spawns: sum('spawns'),
    decisions: sum('decisions'),
    idleMbSeconds: sum('idleMbSeconds'),
    perFunction,
  };
}
