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
    const decay = this.decay(atMs);
    const weights = this.weights.map((weight) => weight * decay);
    const sums = this.sums.map((sum) => sum * decay);
    for (const value of open) {
      const bin = binOf(value);
      const weight = 2 ** (-value / this.halfLifeMs);
      weights[bin]! += weight;
      sums[bin]! += weight * value;
    }
    const cells: Cell[] = [];
    weights.forEach((weight, bin) => {
      if (weight > 0) cells.push({ lo: bin === 0 ? 0 : EDGES[bin - 1]!, hi: EDGES[bin]!, weight, mean: sums[bin]! / weight });
    });
    return cells;
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

function binOf(valueMs: number): number {
  if (valueMs <= FIRST_EDGE_MS) return 0;
  const bin = Math.ceil(Math.log(valueMs / FIRST_EDGE_MS) / LOG_GROWTH - 1e-9);
  return Math.min(bin, EDGES.length - 1);
}
