/** CLOCK_MONOTONIC in nanoseconds (libuv's hrtime), as a number: exact below 104 days of uptime. */
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/** Milliseconds on the same clock as performance.now(), for durations. */
export function nowMs(): number {
  return performance.now();
}
