// The industry's default: every worker retires a fixed time after its last use (10 minutes
// on AWS Lambda, 20 on Azure in 2019; Hearth's own default `keepAliveMs` is 10 minutes).
// No pool is kept and nothing is started ahead of demand.

import { formatDuration } from '../format.js';
import { type PoolDecision, type PoolEvent, type PoolPolicy, ProfileBook } from './policy.js';

export interface FixedKeepAliveOptions {
  /** The keep-alive in trace time. */
  keepAliveMs?: number;
  /** Trace time per clock time; the keep-alive shrinks by this factor. */
  compression?: number;
  name?: string;
}

export const DEFAULT_FIXED_KEEPALIVE_MS = 10 * 60_000;

export class FixedKeepAlivePolicy implements PoolPolicy {
  readonly name: string;
  private readonly keepAliveMs: number;
  private readonly reason: string;
  private readonly profiles = new ProfileBook();

  constructor(options: FixedKeepAliveOptions = {}) {
    const traceMs = options.keepAliveMs ?? DEFAULT_FIXED_KEEPALIVE_MS;
    this.keepAliveMs = traceMs / (options.compression ?? 1);
    this.name = options.name ?? `fixed-keepalive-${formatDuration(traceMs).replace(' ', '')}`;
    this.reason = traceMs === 0 ? 'no pool: every request starts its own worker' : `fixed keep-alive of ${formatDuration(traceMs)} (trace time) after each use`;
  }

  observe(event: PoolEvent): void {
    this.profiles.observe(event);
  }

  decide(functionName: string, now: number): PoolDecision {
    return {
      function: functionName,
      policy: this.name,
      at: now,
      min: 0,
      max: this.profiles.maxWorkers(functionName),
      keepAliveMs: this.keepAliveMs,
      reason: this.reason,
      inputs: { keepAliveMs: this.keepAliveMs },
    };
  }
}
