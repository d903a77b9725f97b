// How much work a function has right now: its arrival rate over a stable and a panic window
// (the two windows of Knative's autoscaler), the distribution of its concurrency over a
// longer window, and its mean execution time; in steady state the mean concurrency is the
// arrival rate × the execution time (Little's law). Times are trace ms.

/** Arrivals counted in fixed buckets over a sliding window, the oldest bucket overwritten. */
export class ArrivalRate {
  private readonly counts: Float64Array;
  private newestBucket = 0;

  constructor(
    private readonly bucketMs: number,
    buckets: number,
  ) {
    this.counts = new Float64Array(buckets);
  }

  record(atMs: number): void {
    this.advance(atMs);
    this.counts[this.slot(this.newestBucket)]! += 1;
  }

  /** Arrivals per trace ms over the newest `buckets` buckets (the current one included). */
  perMs(atMs: number, buckets: number): number {
    this.advance(atMs);
    let total = 0;
    for (let i = 0; i < buckets; i++) total += this.counts[this.slot(this.newestBucket - i)]!;
    return total / (buckets * this.bucketMs);
  }

  private advance(atMs: number): void {
    const bucket = Math.floor(atMs / this.bucketMs);
    if (bucket <= this.newestBucket) return;
    const cleared = Math.min(bucket - this.newestBucket, this.counts.length);
    for (let i = 1; i <= cleared; i++) this.counts[this.slot(this.newestBucket + i)] = 0;
    this.newestBucket = bucket;
  }

  private slot(bucket: number): number {
    const length = this.counts.length;
    return ((bucket % length) + length) % length;
  }
}

/**
 * Requests in flight, sampled once per bucket over a sliding window, so that its
 * quantiles are those of the concurrency over time ("at least 10 busy half of the time").
 * A count per concurrency value is kept beside the samples, so a quantile is one scan.
 */
export class ConcurrencySamples {
  private readonly samples: Int32Array;
  private readonly counts: number[];
  private sampledBucket: number | undefined;
  private current = 0;

  constructor(
    private readonly bucketMs: number,
    buckets: number,
  ) {
    this.samples = new Int32Array(buckets);
    this.counts = [buckets];
  }

  /** Concurrency becomes `inFlight` at `atMs`; the buckets passed since the last change sample the old value. */
  change(atMs: number, inFlight: number): void {
    this.advance(atMs);
    this.current = inFlight;
  }

  /** The highest concurrency held at least `share` of the window (0.5: the median). */
  busyAtLeast(atMs: number, share: number): number {
    this.advance(atMs);
    const rank = (1 - share) * this.samples.length;
    let seen = 0;
    for (let value = 0; value < this.counts.length; value++) {
      seen += this.counts[value] ?? 0;
      if (seen > rank) return value;
    }
    return this.counts.length - 1;
  }

  private advance(atMs: number): void {
    const bucket = Math.floor(atMs / this.bucketMs);
    const length = this.samples.length;
    const first = this.sampledBucket === undefined ? bucket - length + 1 : Math.max(this.sampledBucket + 1, bucket - length + 1);
    for (let b = first; b <= bucket; b++) {
      const slot = ((b % length) + length) % length;
      this.counts[this.samples[slot]!]!--;
      this.samples[slot] = this.current;
      this.counts[this.current] = (this.counts[this.current] ?? 0) + 1;
    }
    if (this.sampledBucket === undefined || bucket > this.sampledBucket) this.sampledBucket = bucket;
  }
}

/** The mean execution time, as an exponentially weighted average of recent invocations. */
export class DurationEstimate {
  private value: number | undefined;

  constructor(private readonly weight = 0.05) {}

  record(durationMs: number): void {
    this.value = this.value === undefined ? durationMs : this.value + this.weight * (durationMs - this.value);
  }

  get ms(): number {
    return this.value ?? 0;
  }
}

/**
 * How crowded arrivals come: per n from 1 to `depth`, the share of arrivals that came
 * within a window (a cold start) of the n-th arrival before them, each arrival's weight
 * halving every `halfLifeMs`. n spare workers are outrun when the n arrivals before a miss
 * took them all and their replacements are still starting; counting every arrival, not only
 * misses, overstates that, on the safe side.
 */
export class ArrivalCrowding {
  /** The last `depth` arrivals, newest last. */
  private readonly recent: number[] = [];
  private readonly crowded: Float64Array;
  private total = 0;
  private lastAt = 0;

  constructor(
    depth: number,
    private readonly halfLifeMs: number,
  ) {
    this.crowded = new Float64Array(depth);
  }

  record(atMs: number, windowMs: number): void {
    const decay = 2 ** (-Math.max(0, atMs - this.lastAt) / this.halfLifeMs);
    this.lastAt = atMs;
    this.total = this.total * decay + 1;
    const recent = this.recent;
    for (let n = 1; n <= this.crowded.length; n++) {
      const before = recent[recent.length - n];
      this.crowded[n - 1] = this.crowded[n - 1]! * decay + (before !== undefined && atMs - before <= windowMs ? 1 : 0);
    }
    recent.push(atMs);
    if (recent.length > this.crowded.length) recent.shift();
  }

  /** Per n from 1, the share of arrivals within the window of the n-th before them (0 before any arrival). */
  shares(): number[] {
    return Array.from(this.crowded, (count) => (this.total === 0 ? 0 : count / this.total));
  }
}
