// Latency percentiles over millions of requests without keeping every sample: log-spaced
// buckets 1% wide from 1 µs up, so a percentile is exact to within 1%.

const RATIO = 1.01;
const SMALLEST_MS = 0.001;
const LOG_RATIO = Math.log(RATIO);

export class LatencyHistogram {
  private counts = new Float64Array(2048);
  private total = 0;

  record(ms: number): void {
    const bucket = ms <= SMALLEST_MS ? 0 : 1 + Math.floor(Math.log(ms / SMALLEST_MS) / LOG_RATIO);
    this.reserve(bucket + 1);
    this.counts[bucket]! += 1;
    this.total++;
  }

  /** Adds another histogram's samples to this one. */
  add(other: LatencyHistogram): void {
    this.reserve(other.counts.length);
    other.counts.forEach((count, bucket) => {
      this.counts[bucket]! += count;
    });
    this.total += other.total;
  }

  /** The latency at `fraction` (0.5, 0.99), the upper edge of its bucket; NaN with no samples. */
  quantile(fraction: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.ceil(fraction * this.total);
    let seen = 0;
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket]!;
      if (seen >= rank) return SMALLEST_MS * RATIO ** bucket;
    }
    return NaN;
  }

  private reserve(buckets: number): void {
    if (buckets <= this.counts.length) return;
    const grown = new Float64Array(Math.max(buckets, this.counts.length * 2));
    grown.set(this.counts);
    this.counts = grown;
  }
}
