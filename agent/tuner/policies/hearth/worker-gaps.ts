// The idle gaps of individual workers, learned from the function's arrivals and ends alone.
// The runtime hands a request to the most recently used idle worker, so the worker freed
// when concurrency fell from j to j − 1 is the one taken when it next rises to j: its idle
// gap is the time concurrency spends below level j. The last worker's gaps (level 1: the
// function idle) are kept apart from the others' (levels 2 and up), because missing them
// costs differently: with nothing running, a request that finds no idle worker waits for a
// whole cold start; with other requests running, it often gets a busy worker that frees up
// sooner. Open gaps (workers idle now) count at their length so far: a worker idle for long
// is evidence that gaps get that long, which closed gaps alone would hide. Times are trace ms.

import { BinTotals, type Cell, DecayingHistogram, openWaitWeight } from './decaying-histogram.js';

export interface GapGroups {
  /** Level 1, unless `min` keeps that worker. */
  last: Cell[];
  /** Levels 2 and up, above `min`. */
  others: Cell[];
}

/** Workers worth keeping for good, and what keeping those above `above` saves over missing each of their gaps, in ms of one worker idle (decayed, like the gaps). */
export interface KeptLevels {
  levels: number;
  gainMs: number;
}

export class WorkerGaps {
  /** levels[j]: the gaps of level j (index 0 unused). */
  private readonly levels: DecayingHistogram[] = [];
  /** idleSince[j]: when level j last fell idle (index 0 unused). */
  private readonly idleSince: number[] = [];
  private concurrency = 0;

  constructor(private readonly halfLifeMs: number) {}

  /** Requests in flight (waiting or running). */
  get inFlight(): number {
    return this.concurrency;
  }

  arrival(atMs: number): void {
    const level = ++this.concurrency;
    const since = this.idleSince[level];
    if (since === undefined) return;
    (this.levels[level] ??= new DecayingHistogram(this.halfLifeMs)).record(atMs - since, atMs);
  }

  end(atMs: number): void {
    if (this.concurrency === 0) return;
    this.idleSince[this.concurrency] = atMs;
    this.concurrency--;
  }

  /** The gaps of the workers above `minWorkers`, open ones included. */
  groups(atMs: number, minWorkers: number): GapGroups {
    const last = new BinTotals(this.halfLifeMs);
    const others = new BinTotals(this.halfLifeMs);
    for (let level = Math.max(1, minWorkers + 1); level < this.idleSince.length; level++) {
      const totals = level === 1 ? last : others;
      this.levels[level]?.addTo(totals, atMs);
      const since = this.idleSince[level];
      if (level > this.concurrency && since !== undefined) totals.addOpen(atMs - since);
    }
    return { last: last.cells(), others: others.cells() };
  }

  /**
   * How many workers, from the last one up, are worth keeping for good: each level j from 1
   * has at least `minEvidence` decayed gaps, and their mean, the open one included (weighted
   * as a gap seen when it began), is below `breakEvenMs(j)`, the idle time a miss at that
   * level is worth. For memoryless arrivals the best keep-alive of a level is then "forever",
   * which a keep-alive fitted to the gaps seen so far cannot express. A level whose worker
   * has been idle for its break-even (or `limitMs`, if shorter) is not kept: a mean over many
   * short gaps moves too slowly to see that the load has stopped, so past that the worker is
   * let go, as the online rule for an unknown gap does (hold for the break-even, then
   * release: never more than twice the cost of knowing the gap).
   */
  levelsWorthKeeping(atMs: number, minEvidence: number, breakEvenMs: (level: number) => number, limitMs: number, above: number): KeptLevels {
    let kept = 0;
    let gainMs = 0;
    for (let level = 1; level < this.levels.length; level++) {
      const gaps = this.levels[level];
      if (gaps === undefined) break;
      const breakEven = breakEvenMs(level);
      let { weight, sum } = gaps.total(atMs);
      const since = this.idleSince[level];
      if (this.concurrency < level && since !== undefined) {
        const idleMs = atMs - since;
        if (idleMs >= Math.min(breakEven, limitMs)) break;
        const open = openWaitWeight(idleMs, this.halfLifeMs);
        weight += open;
        sum += idleMs * open;
      }
      if (weight < minEvidence || sum / weight >= breakEven) break;
      kept = level;
      if (level > above) gainMs += weight * breakEven - sum;
    }
    return { levels: kept, gainMs };
  }
}
