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

export class WorkerGaps {
  private readonly last: DecayingHistogram;
  private readonly others: DecayingHistogram;
  /** idleSince[j]: when level j last fell idle (index 0 unused). */
  private readonly idleSince: number[] = [];
  private concurrency = 0;

  constructor(halfLifeMs: number) {
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

  /** The function's idle periods (the last worker's gaps, the open one included): their decayed count and mean. */
  lastWorkerGaps(atMs: number): { weight: number; meanMs: number } {
    const since = this.idleSince[1];
    const cells = this.last.cells(atMs, this.concurrency === 0 && since !== undefined ? [atMs - since] : []);
    const weight = cells.reduce((sum, cell) => sum + cell.weight, 0);
    return { weight, meanMs: weight === 0 ? 0 : cells.reduce((sum, cell) => sum + cell.weight * cell.mean, 0) / weight };
  }
}
