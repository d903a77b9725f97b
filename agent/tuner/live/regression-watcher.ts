// Watches what a tuner change did: the p99 latency and the error rate of a function's
// requests over a window after the change, against the same window before it. Worse past a
// tolerance, and with enough requests on both sides to tell, is a regression, which the
// caller rolls back. The latency judged is the part a change can move: for pool settings, the
// wait for a worker (cold starts, queueing), which execution times that vary from request to
// request would otherwise drown; for GC settings, which change how fast the handler runs, the
// whole latency. Changes made while a watch runs join it: the window before stays the one
// before the first of them, and the window after starts again from the latest, so that what
// is judged is the function with every change in force. Times are the policy clock, ms.

import { percent } from '../format.js';
import type { Outcome } from './invocation-feed.js';

export type WatchedSetting = 'pool' | 'gc';

export interface WatchOptions {
  /** How long before and after a change its requests are compared. */
  windowMs: number;
  /** Requests each window needs for a verdict... */
  minSamples: number;
  /** ...waiting at most this long after the change for them. */
  maxWaitMs: number;
  /** The p99 may grow by this share... */
  latencyTolerance: number;
  /** ...and must grow by at least this many ms to count (a cold start of a few ms is not a regression). */
  minLatencyIncreaseMs: number;
  /** The error rate may grow by this much (0.01: one percentage point)... */
  errorTolerance: number;
  /** ...and a regression needs at least this many failed requests after the change. */
  minErrors: number;
  /** Most requests kept per function and window (the latest). */
  maxSamples: number;
}

export const DEFAULT_WATCH: WatchOptions = {
  windowMs: 2 * 60_000,
  // A p99 of fewer than a hundred requests is their maximum: one slow request.
  minSamples: 100,
  maxWaitMs: 15 * 60_000,
  latencyTolerance: 0.5,
  minLatencyIncreaseMs: 5,
  errorTolerance: 0.01,
  minErrors: 3,
  maxSamples: 5000,
};

export interface WindowStats {
  requests: number;
  /** Of the wait for a worker (pool changes) or of the whole latency (GC changes). */
  p99Ms: number;
  errorRate: number;
}

export interface Verdict {
  function: string;
  /** What changed in the watched window. */
  settings: WatchedSetting[];
  regressed: boolean;
  /** Without a verdict (too few requests), why. */
  inconclusive?: string;
  /** One sentence: the figures before and after. */
  detail: string;
  before: WindowStats;
  after: WindowStats;
}

interface Watch {
  /** The first change watched: the window before ends here. */
  firstAt: number;
  /** The latest: the window after starts here. */
  changedAt: number;
  settings: Set<WatchedSetting>;
  before: Outcome[];
  after: Outcome[];
}

export class RegressionWatcher {
  private readonly recent = new Map<string, Outcome[]>();
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly options: WatchOptions) {}

  record(outcomes: readonly Outcome[]): void {
    for (const outcome of outcomes) {
      const watch = this.watches.get(outcome.function);
      if (watch !== undefined && outcome.at >= watch.changedAt && watch.after.length < this.options.maxSamples) watch.after.push(outcome);
      let list = this.recent.get(outcome.function);
      if (list === undefined) this.recent.set(outcome.function, (list = []));
      list.push(outcome);
      // Trimmed in halves, so that keeping the window costs O(1) a request.
      if (list.length > 2 * this.options.maxSamples) list.splice(0, list.length - this.options.maxSamples);
    }
  }

  /**
   * `setting` of `fn` changed at `at`: watch what follows. A watch already running takes the
   * change in, unless it has too few requests before its change to ever judge: then this
   * change starts a watch of its own (the function was idle then, and has traffic now).
   */
  changed(fn: string, setting: WatchedSetting, at: number): void {
    const running = this.watches.get(fn);
    if (running !== undefined && running.before.length >= this.options.minSamples) {
      running.settings.add(setting);
      running.changedAt = at;
      running.after = [];
      return;
    }
    const before = (this.recent.get(fn) ?? []).filter((outcome) => outcome.at >= at - this.options.windowMs && outcome.at < at).slice(-this.options.maxSamples);
    this.watches.set(fn, { firstAt: at, changedAt: at, settings: new Set([...(running?.settings ?? []), setting]), before, after: [] });
  }

  /** Whether a change of `fn` is being watched now: since when, until when at the earliest, what changed, the requests on either side so far. */
  watching(fn: string): { since: number; until: number; settings: WatchedSetting[]; requestsBefore: number; requestsAfter: number } | undefined {
    const watch = this.watches.get(fn);
    if (watch === undefined) return undefined;
    const until = Math.min(watch.changedAt + this.options.windowMs, watch.firstAt + this.options.maxWaitMs);
    return { since: watch.firstAt, until, settings: [...watch.settings], requestsBefore: watch.before.length, requestsAfter: watch.after.length };
  }

  forget(fn: string): void {
    this.watches.delete(fn);
    this.recent.delete(fn);
  }

  /** Verdicts on the watches whose window after their latest change has passed (or that have run for maxWaitMs); those watches end. */
  check(now: number): Verdict[] {
    const { windowMs, minSamples, maxWaitMs } = this.options;
    const verdicts: Verdict[] = [];
    for (const [fn, watch] of this.watches) {
      // Changes that keep coming do not put the verdict off for ever.
      const waitedTooLong = now - watch.firstAt >= maxWaitMs;
      if (now - watch.changedAt < windowMs && !waitedTooLong) continue;
      const enough = watch.before.length >= minSamples && watch.after.length >= minSamples;
      if (!enough && !waitedTooLong && watch.before.length >= minSamples) continue;
      this.watches.delete(fn);
      verdicts.push(this.verdict(fn, watch, enough));
    }
    return verdicts;
  }

  private verdict(fn: string, watch: Watch, enough: boolean): Verdict {
    const o = this.options;
    const measure = watch.settings.has('gc') ? 'latencyMs' : 'waitMs';
    const before = stats(watch.before, measure);
    const after = stats(watch.after, measure);
    const settings = [...watch.settings];
    const what = measure === 'waitMs' ? 'p99 wait for a worker' : 'p99 latency';
    const figures = `${what} ${before.p99Ms.toFixed(1)} → ${after.p99Ms.toFixed(1)} ms, errors ${percent(before.errorRate)} → ${percent(after.errorRate)} (${before.requests} requests before, ${after.requests} after)`;
    if (!enough) {
      const inconclusive = `too few requests to judge (${before.requests} before, ${after.requests} after; ${o.minSamples} needed on each side)`;
      return { function: fn, settings, regressed: false, inconclusive, detail: inconclusive, before, after };
    }
    const slower = after.p99Ms > before.p99Ms * (1 + o.latencyTolerance) && after.p99Ms - before.p99Ms >= o.minLatencyIncreaseMs;
    const failing = after.errorRate > before.errorRate + o.errorTolerance && after.errorRate * after.requests >= o.minErrors;
    const worse = slower && failing ? 'latency and errors' : slower ? 'latency' : failing ? 'errors' : undefined;
    return { function: fn, settings, regressed: worse !== undefined, detail: worse === undefined ? figures : `${worse} got worse after the ${settings.join(' and ')} change: ${figures}`, before, after };
  }
}

function stats(outcomes: readonly Outcome[], measure: 'latencyMs' | 'waitMs'): WindowStats {
  if (outcomes.length === 0) return { requests: 0, p99Ms: 0, errorRate: 0 };
  const latencies = outcomes.map((outcome) => outcome[measure]).sort((a, b) => a - b);
  const failed = outcomes.reduce((count, outcome) => count + (outcome.failed ? 1 : 0), 0);
  return { requests: outcomes.length, p99Ms: latencies[Math.ceil(0.99 * latencies.length) - 1]!, errorRate: failed / outcomes.length };
}
