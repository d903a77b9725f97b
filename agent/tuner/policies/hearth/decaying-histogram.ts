// An empirical distribution of waiting times that forgets: each sample's weight halves every
// `halfLifeMs`, so the distribution follows a function whose pattern changes, while a rare
// function's few samples keep their relative weights. Bins are log-spaced (each 25% wider
// than the last, from 100 ms to 12 h, then one open bin), so a short gap and a long one
// are both resolved to within a quarter of their length. Times are trace time.

/** A bin's share of the distribution: samples between `lo` and `hi`, their total weight and mean. */
export interface Cell {
  lo: number;
  hi: number;
  weight: number;
  mean: number;
}

const FIRST_EDGE_MS = 100;
const LAST_EDGE_MS = 12 * 3_600_000;
const GROWTH = 1.25;
const LOG_GROWTH = Math.log(GROWTH);
/** Upper edges: [100 ms, 125 ms, ..., ≥ 12 h], then +∞. */
const EDGES = ((): number[] => {
  const edges = [FIRST_EDGE_MS];
  while (edges[edges.length - 1]! < LAST_EDGE_MS) edges.push(edges[edges.length - 1]! * GROWTH);
  edges.push(Infinity);
  return edges;
})();
/** Weights are kept relative to a reference time and rescaled before they overflow. */
const RESCALE_AT = 2 ** 40;

export class DecayingHistogram {
  private readonly weights = new Float64Array(EDGES.length);
  private readonly sums = new Float64Array(EDGES.length);
  private referenceMs: number | undefined;

  constructor(private readonly halfLifeMs: number) {}

  record(valueMs: number, atMs: number): void {
    this.referenceMs ??= atMs;
    let weight = 2 ** ((atMs - this.referenceMs) / this.halfLifeMs);
    if (weight > RESCALE_AT) {
      this.rescale(atMs);
      weight = 1;
    }
    const bin = binOf(valueMs);
    this.weights[bin]! += weight;
    this.sums[bin]! += weight * valueMs;
  }

  /** Total weight at `atMs`: about the number of samples in the last half-life or so. */
  weight(atMs: number): number {
    let total = 0;
    for (const weight of this.weights) total += weight;
    return total * this.decay(atMs);
  }

  /**
   * The non-empty bins in ascending order, weighted as of `atMs`, with waits still open at
   * `atMs` added; an open wait weighs what a sample taken when it began weighs now.
   */
  cells(atMs: number, open: readonly number[] = []): Cell[] {
    const totals = new BinTotals(this.halfLifeMs);
    this.addTo(totals, atMs);
    for (const value of open) totals.addOpen(value);
    return totals.cells();
  }

  /** Adds this histogram's bins, weighted as of `atMs`, to `totals`. */
  addTo(totals: BinTotals, atMs: number): void {
    const decay = this.decay(atMs);
    for (let bin = 0; bin < this.weights.length; bin++) {
      totals.weights[bin]! += this.weights[bin]! * decay;
      totals.sums[bin]! += this.sums[bin]! * decay;
    }
  }

  /** Total weight and weighted sum as of `atMs`, for the mean. */
  total(atMs: number): { weight: number; sum: number } {
    const decay = this.decay(atMs);
    let weight = 0;
    let sum = 0;
    for (let bin = 0; bin < this.weights.length; bin++) {
      weight += this.weights[bin]!;
      sum += this.sums[bin]!;
    }
    return { weight: weight * decay, sum: sum * decay };
  }

  private decay(atMs: number): number {
    return this.referenceMs === undefined ? 0 : 2 ** (-(atMs - this.referenceMs) / this.halfLifeMs);
  }

  private rescale(atMs: number): void {
    const factor = this.decay(atMs);
    for (let bin = 0; bin < this.weights.length; bin++) {
      this.weights[bin]! *= factor;
      this.sums[bin]! *= factor;
    }
    this.referenceMs = atMs;
  }
}

/** Weights and weighted sums per bin as of one time: what several histograms add up to, and what cells are made of. */
export class BinTotals {
  readonly weights = new Float64Array(EDGES.length);
  readonly sums = new Float64Array(EDGES.length);

  constructor(private readonly halfLifeMs: number) {}

  /** A wait still open, `valueMs` long so far. */
  addOpen(valueMs: number): void {
    const bin = binOf(valueMs);
    const weight = openWaitWeight(valueMs, this.halfLifeMs);
    this.weights[bin]! += weight;
    this.sums[bin]! += weight * valueMs;
  }

  cells(): Cell[] {
    const cells: Cell[] = [];
    this.weights.forEach((weight, bin) => {
      if (weight > 0) cells.push({ lo: bin === 0 ? 0 : EDGES[bin - 1]!, hi: EDGES[bin]!, weight, mean: this.sums[bin]! / weight });
    });
    return cells;
  }
}

/** What a wait still open, `valueMs` long so far, weighs now: what a sample taken when it began weighs. */
export function openWaitWeight(valueMs: number, halfLifeMs: number): number {
  return 2 ** (-valueMs / halfLifeMs);
}

function binOf(valueMs: number): number {
  if (valueMs <= FIRST_EDGE_MS) return 0;
  const bin = Math.ceil(Math.log(valueMs / FIRST_EDGE_MS) / LOG_GROWTH - 1e-9);
  return Math.min(bin, EDGES.length - 1);
}
