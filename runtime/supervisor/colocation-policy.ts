// When the runtime's thread and its workers share one CPU. A request handed to a worker and
// answered back wakes a sleeping process twice; across CPUs each wakeup is an interprocessor
// interrupt to an idle CPU (20–25 µs each on the 2-vCPU VM the benchmarks run on),
// on one CPU a context switch (about 5 µs). So while their work fits on one CPU they are
// held on the one the runtime runs on, and once it does not they get the host's CPUs back.

/** How often the load is measured. */
export const COLOCATION_TICK_MS = 200;
/** Ticks of load looked at before co-locating: one second. */
export const COLOCATE_WINDOW_TICKS = 5;
/**
 * Co-locate when the runtime and its workers took less than one CPU over the window. Measured
 * on separate CPUs, the same work costs more than on one (each cross-CPU wakeup is paid by both
 * sides), so a chain of requests that takes 0.85 CPUs spread runs in 0.7 together.
 */
export const COLOCATE_BELOW_CPUS = 1.0;
/**
 * Give the CPUs back when the shared CPU was busy this share of the time over
 * RELEASE_WINDOW_TICKS: requests would queue for it, whether the work is the runtime's, its
 * workers' or another process's the runtime cannot move away from. (Not the runtime's own
 * run-queue wait: on one CPU it waits for its workers as a matter of course.)
 */
export const RELEASE_BUSY_SHARE = 0.9;
export const RELEASE_WINDOW_TICKS = 3;
/** After a release for load, co-location waits this long; doubled, up to MAX_HOLD_MS, when the last one lasted less than it. */
export const HOLD_AFTER_RELEASE_MS = 10_000;
export const MAX_HOLD_MS = 160_000;
/** More live workers than this and the runtime does not co-locate: reading each one's CPU time every tick would cost more than co-location saves. */
export const MAX_COLOCATED_WORKERS = 64;

export interface ColocationTick {
  nowMs: number;
  /** CPU seconds the runtime and its live workers used over the tick, per second of it. */
  loadCpus: number;
  /** While co-located: the share of the tick the shared CPU was busy, with anything. */
  sharedCpuBusy: number | undefined;
  workers: number;
}

export type ColocationChange = { to: 'colocated' | 'spread'; reason: string };

/** The decision alone, from ticks of measured load; colocation.ts applies it. */
export class ColocationPolicy {
  colocated = false;
  /** Spread: the last ticks' load. Co-located: the last ticks' busy share of the shared CPU. */
  private window: number[] = [];
  private holdUntilMs = 0;
  private holdMs = HOLD_AFTER_RELEASE_MS;
  private colocatedSinceMs = 0;

  observe(tick: ColocationTick): ColocationChange | undefined {
    return this.colocated ? this.whileColocated(tick) : this.whileSpread(tick);
  }

  private whileSpread(tick: ColocationTick): ColocationChange | undefined {
    const mean = this.slide(tick.loadCpus, COLOCATE_WINDOW_TICKS);
    if (tick.workers === 0 || tick.workers > MAX_COLOCATED_WORKERS) return undefined;
    if (mean === undefined || mean >= COLOCATE_BELOW_CPUS || tick.nowMs < this.holdUntilMs) return undefined;
    this.colocated = true;
    this.colocatedSinceMs = tick.nowMs;
    this.window = [];
    return { to: 'colocated', reason: `the runtime and ${tick.workers} worker(s) took ${mean.toFixed(2)} CPUs over the last second` };
  }

  private whileColocated(tick: ColocationTick): ColocationChange | undefined {
    const busy = tick.sharedCpuBusy === undefined ? undefined : this.slide(tick.sharedCpuBusy, RELEASE_WINDOW_TICKS);
    let reason: string;
    if (tick.workers === 0 || tick.workers > MAX_COLOCATED_WORKERS) {
      reason = tick.workers === 0 ? 'no worker is live' : `${tick.workers} workers are live (at most ${MAX_COLOCATED_WORKERS} are co-located)`;
    } else if (busy !== undefined && busy >= RELEASE_BUSY_SHARE) {
      reason = `the CPU the runtime shares with its workers was busy ${(busy * 100).toFixed(0)}% of the last ${(RELEASE_WINDOW_TICKS * COLOCATION_TICK_MS) / 1000} s`;
      this.hold(tick.nowMs);
    } else {
      return undefined;
    }
    this.colocated = false;
    this.window = [];
    return { to: 'spread', reason };
  }

  /** Adds a tick's value to the window; its mean once it holds `ticks` of them. */
  private slide(value: number, ticks: number): number | undefined {
    this.window.push(value);
    if (this.window.length > ticks) this.window.shift();
    return this.window.length < ticks ? undefined : this.window.reduce((sum, each) => sum + each, 0) / ticks;
  }

  /** Co-location that ended for load is not tried again at once; a short one means the load is near the edge, so the wait grows. */
  private hold(nowMs: number): void {
    this.holdMs = nowMs - this.colocatedSinceMs < this.holdMs ? Math.min(this.holdMs * 2, MAX_HOLD_MS) : HOLD_AFTER_RELEASE_MS;
    this.holdUntilMs = nowMs + this.holdMs;
  }
}
