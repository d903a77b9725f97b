// What keeps the GC advice of one function from flapping or repeating a mistake: the time
// since the settings in force last changed (figures from before a change do not judge it),
// advice that was not applied or was rolled back (held off for a back-off), and OOM kills
// (each one a step down in memory, and no raise for a back-off). Times are the caller's
// clock (CLOCK_MONOTONIC ms).

import type { GcSettings } from '../gc-advice.js';
import { formatDuration } from '../format.js';
import type { GcPolicyOptions } from './options.js';

/** What the policies are told of the guard: OOM kills in a row (each lowers the memory budget a step), whether one just happened, whether raises are allowed. */
export interface PolicyState {
  oomLevel: number;
  afterOom: boolean;
  mayRaise: boolean;
}

export interface Observed {
  /** New OOM kills since the last look. */
  newOomKills: number;
  /** The settings in force changed since the last look (advice applied, a rollback, an operator). */
  changed: boolean;
}

export class GcGuard {
  /** When the settings in force were last seen to change. */
  changedAt = -Infinity;
  /** OOM kills in a row: each lowers the GC's memory budget a step; never forgotten, so the budget does not creep back. */
  oomLevel = 0;
  private seen: string | undefined;
  private oomKills: number | undefined;
  private advised: GcSettings | undefined;
  private applied: GcSettings | undefined;
  private holdUntil = -Infinity;
  private holdBecause = '';
  private backoffMs: number;
  private lastHoldAt = -Infinity;

  constructor(private readonly options: GcPolicyOptions) {
    this.backoffMs = options.backoffMs;
  }

  /** Takes in the settings in force and the function's OOM kill count (since it was deployed). */
  observe(inForce: GcSettings, oomKills: number, now: number): Observed {
    const key = JSON.stringify(ordered(inForce));
    // The first look sees no change: the settings have been in force for as long as anyone knows.
    const changed = this.seen !== undefined && key !== this.seen;
    if (changed) this.changedAt = now;
    this.seen = key;
    if (this.advised !== undefined) {
      if (matches(inForce, this.advised)) this.applied = this.advised;
      else this.hold(now, `the advice ${JSON.stringify(this.advised)} was not applied`);
      this.advised = undefined;
    } else if (changed && this.applied !== undefined && !matches(inForce, this.applied)) {
      this.hold(now, `the advice ${JSON.stringify(this.applied)} was rolled back or overridden`);
      this.applied = undefined;
    }
    // The first look takes earlier kills as history: no step down, but no raise for a while either.
    const newOomKills = this.oomKills === undefined ? 0 : Math.max(0, oomKills - this.oomKills);
    if (this.oomKills === undefined && oomKills > 0) this.hold(now, `the function had ${oomKills} OOM kill${oomKills > 1 ? 's' : ''} before`);
    this.oomKills = oomKills;
    if (newOomKills > 0) {
      this.oomLevel++;
      this.hold(now, `${newOomKills} OOM kill${newOomKills > 1 ? 's' : ''}`);
    }
    return { newOomKills, changed };
  }

  /** Why a raise may not happen now, or undefined when it may. */
  raiseHeld(now: number): string | undefined {
    return now < this.holdUntil ? `${this.holdBecause}; raises held for ${formatDuration(this.holdUntil - now)} more` : undefined;
  }

  /** Why no advice at all is due now (too soon after a change), or undefined. */
  cooling(now: number): string | undefined {
    const since = now - this.changedAt;
    return since < this.options.cooldownMs ? `the settings changed ${formatDuration(since)} ago; waiting ${formatDuration(this.options.cooldownMs - since)} more` : undefined;
  }

  /** Advice was given: the next look checks that it is in force. */
  gave(settings: GcSettings): void {
    this.advised = settings;
  }

  private hold(now: number, because: string): void {
    this.backoffMs = now - this.lastHoldAt > 2 * this.backoffMs ? this.options.backoffMs : Math.min(2 * this.backoffMs, this.options.maxBackoffMs);
    this.lastHoldAt = now;
    this.holdUntil = now + this.backoffMs;
    this.holdBecause = because;
  }
}

/** Whether every setting the advice names is in force. */
function matches(inForce: GcSettings, advice: GcSettings): boolean {
  return (Object.keys(advice) as (keyof GcSettings)[]).every((key) => inForce[key] === advice[key]);
}

function ordered(settings: GcSettings): [string, number | undefined][] {
  return (Object.keys(settings) as (keyof GcSettings)[]).sort().map((key) => [key, settings[key]]);
}
