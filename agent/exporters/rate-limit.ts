export interface RateLimit {
  /** Requests a second a client may keep up. */
  perSecond: number;
  /** Requests a client may send at once after being quiet. */
  burst: number;
}

/** Clients tracked at most; past it, those whose bucket has refilled are forgotten (they lose nothing). */
const MAX_CLIENTS = 1024;

/** One token bucket per client key (its address): take() spends a token, or says how long until one is back. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(readonly limit: RateLimit) {}

  /** 0 when the request may go ahead, else the milliseconds until it could. */
  take(client: string, nowMs: number): number {
    const bucket = this.buckets.get(client) ?? { tokens: this.limit.burst, atMs: nowMs };
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((nowMs - bucket.atMs) / 1000) * this.limit.perSecond);
    bucket.atMs = nowMs;
    if (!this.buckets.has(client)) this.remember(client, bucket, nowMs);
    if (bucket.tokens < 1) return Math.ceil(((1 - bucket.tokens) / this.limit.perSecond) * 1000);
    bucket.tokens -= 1;
    return 0;
  }

  private remember(client: string, bucket: { tokens: number; atMs: number }, nowMs: number): void {
    if (this.buckets.size >= MAX_CLIENTS) {
      const refillMs = (this.limit.burst / this.limit.perSecond) * 1000;
      for (const [key, other] of this.buckets) if (nowMs - other.atMs >= refillMs) this.buckets.delete(key);
    }
    // A flood of new addresses still cannot grow the map without bound: the oldest goes.
    if (this.buckets.size >= MAX_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(client, bucket);
  }
}
