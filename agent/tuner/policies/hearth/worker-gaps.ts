// The idle gaps of individual workers, learned from the function's arrivals and ends alone.
// The runtime hands a request to the most recently used idle worker, so the worker freed
// when concurrency fell from j to j − 1 is the one taken when it next rises to j: its idle
// gap is the time concurrency spends below level j. The last worker's gaps (level 1: the
// function idle) are kept apart from the others' (levels 2 and up), because missing them
// costs differently: with nothing running, a request that finds no idle worker waits for a
// whole cold start; with other requests running, it often gets a busy worker that frees up
// sooner. Open gaps (workers idle now) count at their length so far: a worker idle for long
// is evidence that gaps get that long, which closed gaps alone would hide. Times are trace ms.

import { type Cell, DecayingHistogram } from './decaying-histogram.js';

export interface GapGroups {
  /** Level 1, unless `min` keeps that worker. */
  last: Cell[];
  /** Levels 2 and up, above `min`. */
  others: Cell[];
}

/** One level's gaps as a decayed count and sum, as of `atMs`. */
interface LevelGaps {
  weight: number;
  sumMs: number;
  atMs: number;
}

export class WorkerGaps {
  private readonly last: DecayingHistogram;
  private readonly others: DecayingHistogram;
  /** levels[j]: level j's gaps, for their mean (index 0 unused). */
  private readonly levels: LevelGaps[] = [];
  /** idleSince[j]: when level j last fell idle (index 0 unused). */
  private readonly idleSince: number[] = [];
  private concurrency = 0;

  constructor(private readonly halfLifeMs: number) {
    this.last = new DecayingHistogram(halfLifeMs);
    this.others = new DecayingHistogram(halfLifeMs);
  }

  /** Requests in flight (waiting or running). */
  get inFlight(): number {
    return this.concurrency;
  }

  arrival(atMs: number, minWorkers: number): void {
    const level = ++this.concurrency;
    const since = this.idleSince[level];
    if (since === undefined) return;
    this.recordLevel(level, atMs - since, atMs);
    if (level === 1) this.last.record(atMs - since, atMs);
    else if (level > minWorkers) this.others.record(atMs - since, atMs);
  }

  end(atMs: number): void {
    if (this.concurrency === 0) return;
    this.idleSince[this.concurrency] = atMs;
    this.concurrency--;
  }

  /** The gaps of the workers `min` does not keep, open ones included. */
  groups(atMs: number, minWorkers: number): GapGroups {
    const openLast: number[] = [];
    const openOthers: number[] = [];
    for (let level = Math.max(this.concurrency, minWorkers) + 1; level < this.idleSince.length; level++) {
      const since = this.idleSince[level];
      if (since !== undefined) (level === 1 ? openLast : openOthers).push(atMs - since);
    }
    return { last: minWorkers >= 1 ? [] : this.last.cells(atMs, openLast), others: this.others.cells(atMs, openOthers) };
  }

  /**
   * How many workers, from the last one up, are worth keeping for good: each level j from 1
   * has at least `minEvidence` decayed gaps, and their mean, the open one included (weighted
   * as a gap seen when it began), is below `breakEvenMs(j)`, the idle time a miss at that
   * level is worth. For memoryless arrivals the best keep-alive of a level is then "forever",
   * which a keep-alive fitted to the gaps seen so far cannot express.
   */
  levelsWorthKeeping(atMs: number, minEvidence: number, breakEvenMs: (level: number) => number): number {
    let kept = 0;
    for (let level = 1; level < this.levels.length; level++) {
      const gaps = this.levels[level];
      if (gaps === undefined) break;
      const decay = this.decay(atMs - gaps.atMs);
      let weight = gaps.weight * decay;
      let sumMs = gaps.sumMs * decay;
      const since = this.idleSince[level];
      if (this.concurrency < level && since !== undefined) {
        weight += this.decay(atMs - since);
        sumMs += (atMs - since) * this.decay(atMs - since);
      }
      if (weight < minEvidence || sumMs / weight >= breakEvenMs(level)) break;
      kept = level;
    }
    return kept;
  }

  private recordLevel(level: number, gapMs: number, atMs: number): void {
    const gaps = (this.levels[level] ??= { weight: 0, sumMs: 0, atMs });
    const decay = this.decay(atMs - gaps.atMs);
    gaps.weight = gaps.weight * decay + 1;
    gaps.sumMs = gaps.sumMs * decay + gapMs;
    gaps.atMs = atMs;
  }

  private decay(ageMs: number): number {
    return 2 ** (-ageMs / this.halfLifeMs);
  }
}
