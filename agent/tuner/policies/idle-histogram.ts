// The hybrid policy's per-function record of idle times (Shahrad et al., ATC'20): fixed-width
// bins over a limited range, idle times beyond the range counted apart as out-of-bounds,
// and the coefficient of variation of the bin counts kept up to date in O(1) per idle time
// (sum and sum of squares of the counts) because it is read after every event.

export class IdleHistogram {
  private readonly bins: Uint32Array;
  private inBounds = 0;
  private outOfBounds = 0;
  private sumOfSquares = 0;

  constructor(
    readonly binMs: number,
    binCount: number,
  ) {
    this.bins = new Uint32Array(binCount);
  }

  record(idleMs: number): void {
    const bin = Math.floor(idleMs / this.binMs);
    if (bin >= this.bins.length) {
      this.outOfBounds++;
      return;
    }
    const count = this.bins[bin]!;
    this.sumOfSquares += 2 * count + 1;
    this.bins[bin] = count + 1;
    this.inBounds++;
  }

  get count(): number {
    return this.inBounds + this.outOfBounds;
  }

  get outOfBoundsRate(): number {
    return this.count === 0 ? 0 : this.outOfBounds / this.count;
  }

  /** Standard deviation over mean of the bin counts (n − 1 in the variance); 0 with no idle time in range. */
  get coefficientOfVariation(): number {
    if (this.inBounds === 0) return 0;
    const n = this.bins.length;
    const mean = this.inBounds / n;
    const variance = Math.max(0, (this.sumOfSquares - this.inBounds * mean) / (n - 1));
    return Math.sqrt(variance) / mean;
  }

  /** The first bin at which the in-range idle times reach `fraction` of all of them. */
  percentileBin(fraction: number): number {
    let prefix = 0;
    for (let bin = 0; bin < this.bins.length; bin++) {
      prefix += this.bins[bin]!;
      if (prefix >= fraction * this.inBounds) return bin;
    }
    return this.bins.length - 1;
  }
}
