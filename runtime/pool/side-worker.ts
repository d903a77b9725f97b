import type { Invocation } from '../supervisor/invocation.js';
import type { ExitInfo, Worker } from '../supervisor/worker.js';

/**
 * A worker started beside a pool (a profiled one): a real worker of the function's current
 * version that is offered a share of the pool's invocations but is not part of its capacity
 * (min, max, keep-alive and recycling leave it alone). Its owner retires it; so do a new
 * version and the function's removal.
 */
export class SideWorker {
  /** Invocations it answered: the function's own, and a generated workload's. */
  readonly answered = { routed: 0, generated: 0, failed: 0 };
  /** nowMs() when the pool last received an invocation: whether the function has traffic of its own. */
  lastOfferAt = Number.NEGATIVE_INFINITY;
  /** Resolves when the worker is ready; rejects when it exits first. */
  readonly ready: Promise<void>;
  /** Resolves with how the worker ended. */
  readonly exited: Promise<ExitInfo>;
  /** Told when a slot frees up, so a generated workload can use it. */
  onSlotFree: () => void = () => undefined;
  private credit = 0;
  private routing = true;
  private resolveReady!: () => void;
  private rejectReady!: (error: Error) => void;
  private resolveExit!: (info: ExitInfo) => void;

  constructor(
    readonly worker: Worker,
    readonly share: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Nobody may wait for readiness (the run was cancelled); its failure is reported through `exited`.
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  /**
   * Called by the pool once per invocation it receives, at `now`: whether this one goes to the
   * side worker. Credit accrues `share` per invocation, so it takes every (1/share)-th one,
   * or the next one after that when it was busy.
   */
  claim(now: number): boolean {
    this.lastOfferAt = now;
    if (!this.routing) return false;
    this.credit = Math.min(1, this.credit + this.share);
    if (this.credit < 1 || this.worker.freeSlots === 0) return false;
    this.credit -= 1;
    return true;
  }

  /** Stops routing to it; it exits once what it holds is answered (a worker still starting is stopped at once). */
  retire(reason: string): void {
    this.routing = false;
    if (this.worker.status === 'starting') this.worker.shutdown(reason);
    else this.worker.retire(reason);
  }

  // ---- from the pool's hooks ----

  started(): void {
    this.resolveReady();
  }

  invocationEnded(invocation: Invocation, status: number): void {
    if (invocation.generated === true) this.answered.generated++;
    else this.answered.routed++;
    if (status >= 400) this.answered.failed++;
  }

  ended(info: ExitInfo): void {
    this.routing = false;
    this.rejectReady(new Error(`worker ${this.worker.pid} ${info.reason} before it was ready`));
    this.resolveExit(info);
  }
}
