// Groups a function's arrivals into bursts (arrivals closer together than a lull) and keeps
// what the recent bursts looked like: when each started after the one before (the interval),
// how long arrivals had paused before it (the lull), how long its arrivals lasted, how many
// requests it had in flight at its peak and how soon it got there. Intervals that agree are
// a period: the function is a timer. Times are trace ms.

import { median, RecentValues } from '../../stats.js';
import { DecayingHistogram } from './decaying-histogram.js';

export interface BurstOptions {
  /** A pause in arrivals at least this long ends a burst. */
  lullMs: number;
  halfLifeMs: number;
  /** How many recent bursts are kept. */
  recent: number;
  /** Recent intervals agree (a period) when their range is within this share of their median. */
  periodTolerance: number;
}

/** One finished burst, seen from the start of the next. */
export interface Burst {
  /** From its first arrival to the next burst's first. */
  intervalMs: number;
  /** From its last arrival to the next burst's first. */
  lullMs: number;
  /** From its first arrival to its last. */
  durationMs: number;
  /** Most requests in flight, not counting those carried over from earlier bursts. */
  peak: number;
  /** From its first arrival to its peak. */
  rampMs: number;
}

export interface Period {
  periodMs: number;
  /** Largest minus smallest recent interval. */
  rangeMs: number;
}

export class BurstTracker {
  private readonly recent: RecentValues<Burst>;
  /** Records each burst start, for the decayed rate of bursts. */
  private readonly starts: DecayingHistogram;
  private lastArrivalMs: number | undefined;
  private burstStartMs: number | undefined;
  /** Requests still in flight from earlier bursts when this one started. */
  private carriedOver = 0;
  private peak = 0;
  private peakAtMs = 0;
  private finished = 0;

  constructor(private readonly options: BurstOptions) {
    this.recent = new RecentValues(options.recent);
    this.starts = new DecayingHistogram(options.halfLifeMs);
  }

  /** Returns true when this arrival starts a new burst. */
  arrival(atMs: number, inFlight: number): boolean {
    const last = this.lastArrivalMs;
    this.lastArrivalMs = atMs;
    if (last !== undefined && atMs - last < this.options.lullMs) {
      if (inFlight - this.carriedOver > this.peak) {
        this.peak = inFlight - this.carriedOver;
        this.peakAtMs = atMs;
      }
      return false;
    }
    const start = this.burstStartMs;
    if (start !== undefined && last !== undefined) {
      this.recent.push({ intervalMs: atMs - start, lullMs: atMs - last, durationMs: last - start, peak: this.peak, rampMs: this.peakAtMs - start });
      this.finished++;
    }
    this.starts.record(0, atMs);
    this.burstStartMs = atMs;
    this.carriedOver = inFlight - 1;
    this.peak = 1;
    this.peakAtMs = atMs;
    return true;
  }

  get startMs(): number | undefined {
    return this.burstStartMs;
  }

  get lastArrival(): number | undefined {
    return this.lastArrivalMs;
  }

  get bursts(): readonly Burst[] {
    return this.recent.all;
  }

  /** Whether the oldest of the recent bursts is the function's first (nothing came before it). */
  get oldestIsFirst(): boolean {
    return this.finished === this.recent.all.length;
  }

  /** Bursts in about the last half-life, decayed like the idle gaps, so the two compare as rates. */
  rate(atMs: number): number {
    return this.starts.weight(atMs);
  }

  /** The period, when at least three recent intervals agree. */
  period(): Period | undefined {
    const intervals = this.recent.all.map((burst) => burst.intervalMs);
    if (intervals.length < 3) return undefined;
    const periodMs = median(intervals);
    const rangeMs = Math.max(...intervals) - Math.min(...intervals);
    return rangeMs <= this.options.periodTolerance * periodMs ? { periodMs, rangeMs } : undefined;
  }
}
