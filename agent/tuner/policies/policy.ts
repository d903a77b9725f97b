// The contract between a pool policy and whatever applies its decisions: the discrete-event
// simulator (simulate.ts) or, later, the live runtime through `PATCH /v1/functions/NAME`.
// Both drive a policy the same way: report what happened with observe(), ask decide() after
// each event of a function and on a regular tick, and apply a decision only when it differs
// from the last one applied. Times are milliseconds on the caller's clock (the simulator's
// virtual clock, or CLOCK_MONOTONIC in the runtime); a policy never reads a clock itself.

import type { Phase } from '../../../shared/phases.js';

/** What a policy can learn about a function: its traffic, its measured costs, and trouble. */
export type PoolEvent =
  /** A request for the function arrived (before it waits for a worker). */
  | { kind: 'arrival'; function: string; at: number }
  /** An invocation finished; `durationMs` is its execution time alone, without waiting or starting. */
  | { kind: 'end'; function: string; at: number; durationMs: number; cold: boolean }
  /** Measured facts about the function's workers: the agent's per-phase cold-start cost, private memory, the configured pool bound. */
  | { kind: 'profile'; function: string; at: number; profile: FunctionProfile }
  /** The caller saw latency or errors regress after the last decision: roll it back. */
  | { kind: 'regression'; function: string; at: number; detail: string };

export interface FunctionProfile {
  /** Median cold-start cost per phase, in ms (the agent's `/v1/phases`); a warm start avoids all of it. */
  coldStartMs: Partial<Record<Phase, number>>;
  /** A worker's private memory in MB: what an idle worker costs to keep. */
  memoryMb: number;
  /** The function's configured `pool.max`; no decision goes above it. */
  maxWorkers: number;
}

/**
 * One function's pool settings, as the runtime applies them:
 * - `min` workers are kept warm whatever the traffic, `max` bounds the pool;
 * - an idle worker above `min` retires once it has been idle `keepAliveMs`;
 * - a `prewarm` makes `workers` workers ready at `atMs` (idle ones count, the rest are
 *   started then) and holds them until `untilMs` even if `keepAliveMs` would retire them
 *   earlier; once used, a worker follows `keepAliveMs` again. The live runtime applies it
 *   as `min + workers` over [atMs, untilMs].
 */
export interface PoolDecision {
  function: string;
  policy: string;
  /** When the decision was made. */
  at: number;
  min: number;
  max: number;
  keepAliveMs: number;
  /** Idle workers kept beyond those running: one taken, another is started at once. 0 when absent. */
  spare?: number;
  prewarm?: Prewarm;
  /** One sentence an operator can read in a log: what was decided and why. */
  reason: string;
  /** The numbers the decision was computed from, for the decision log. */
  inputs: Record<string, number | string | boolean>;
}

/** Workers made ready ahead of a predicted arrival; absolute times on the caller's clock. */
export interface Prewarm {
  atMs: number;
  untilMs: number;
  workers: number;
}

export interface PoolPolicy {
  readonly name: string;
  observe(event: PoolEvent): void;
  /** The settings the function should have now; cheap enough to call after every event. */
  decide(functionName: string, now: number): PoolDecision;
}

/**
 * The runtime's default `pool.max` (DEFAULT_POOL in runtime/manifest/spec.ts; the agent
 * talks to the runtime over HTTP and imports none of it), for functions no profile has
 * described yet.
 */
export const DEFAULT_MAX_WORKERS = 4;

/** Total cold-start cost in ms: the sum of the measured phases. */
export function coldStartTotalMs(phases: FunctionProfile['coldStartMs']): number {
  let total = 0;
  for (const ms of Object.values(phases)) total += ms ?? 0;
  return total;
}

/**
 * True when applying `next` after `previous` would change anything the runtime sees.
 * `wholeMs`: keep-alives compared as the runtime takes them, in whole milliseconds;
 * `prewarm: false`: the pool settings alone, pre-warms left out.
 */
export function decisionChanged(previous: PoolDecision | undefined, next: PoolDecision, { wholeMs = false, prewarm = true } = {}): boolean {
  const keepAlive = (decision: PoolDecision): number => (wholeMs ? Math.round(decision.keepAliveMs) : decision.keepAliveMs);
  return (
    previous === undefined ||
    previous.min !== next.min ||
    previous.max !== next.max ||
    keepAlive(previous) !== keepAlive(next) ||
    (previous.spare ?? 0) !== (next.spare ?? 0) ||
    (prewarm && !samePrewarm(previous.prewarm, next.prewarm))
  );
}

export function samePrewarm(a: Prewarm | undefined, b: Prewarm | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.atMs === b.atMs && a.untilMs === b.untilMs && a.workers === b.workers);
}

/** Per-function configured bounds, learned from profile events; shared by every policy. */
export class ProfileBook {
  private readonly profiles = new Map<string, FunctionProfile>();

  observe(event: PoolEvent): void {
    if (event.kind === 'profile') this.profiles.set(event.function, event.profile);
  }

  get(functionName: string): FunctionProfile | undefined {
    return this.profiles.get(functionName);
  }

  maxWorkers(functionName: string): number {
    return this.profiles.get(functionName)?.maxWorkers ?? DEFAULT_MAX_WORKERS;
  }
}
