// Safety for a policy that changes settings on its own: it does not flap, and it backs off
// when a change hurt. Per function:
// - hysteresis: `min` rises at once when the target exceeds it by more than the tolerance
//   and by a whole worker (a burst must not wait), and falls only when every target over
//   the scale-down window is that much lower (then to the highest of them, as Kubernetes'
//   HPA does); the
//   keep-alive changes only when it moves by more than its own tolerance;
// - rollback: a reported regression restores the settings in force before the last change
//   and freezes them for a back-off that doubles with each regression in a row.
// Times are the caller's clock.

import { formatDuration } from '../format.js';

export interface Settings {
  min: number;
  keepAliveMs: number;
  /** Idle workers kept beyond those running; follows its target at once (it only changes with a new plan). */
  spare: number;
}

export interface GuardOptions {
  /** Relative change of `min` that is ignored (0.1: 10%); at least one worker. */
  minTolerance: number;
  /** Relative change of the keep-alive that is ignored. */
  keepAliveTolerance: number;
  scaleDownAfterMs: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export interface Settled {
  settings: Settings;
  /** Set while a rollback holds the settings: why, and until when. */
  frozen?: string;
}

interface Sample {
  at: number;
  min: number;
}

export class DecisionGuard {
  private current: Settings | undefined;
  private previous: Settings | undefined;
  /** Targets of the scale-down window, descending by `min` (a monotonic queue: its head is the window's maximum). */
  private readonly window: Sample[] = [];
  private frozenUntil = -Infinity;
  private frozenBecause = '';
  private backoffMs: number;
  private lastRollbackAt = -Infinity;

  constructor(private readonly options: GuardOptions) {
    this.backoffMs = options.backoffMs;
  }

  settle(target: Settings, now: number): Settled {
    this.remember(target.min, now);
    const current = this.current;
    if (current === undefined) {
      this.current = target;
      return { settings: target };
    }
    if (now < this.frozenUntil) return { settings: current, frozen: `${this.frozenBecause}; rolled back, held until ${formatDuration(this.frozenUntil - now)} from now` };
    const next = { min: this.nextMin(current.min, target.min), keepAliveMs: this.nextKeepAlive(current.keepAliveMs, target.keepAliveMs), spare: target.spare };
    if (next.min !== current.min || next.keepAliveMs !== current.keepAliveMs || next.spare !== current.spare) {
      this.previous = current;
      this.current = next;
    }
    return { settings: this.current! };
  }

  /** The caller saw a regression: back to the settings before the last change, frozen for a while. */
  rollback(now: number, detail: string): void {
    if (now - this.lastRollbackAt > 2 * this.backoffMs) this.backoffMs = this.options.backoffMs;
    else this.backoffMs = Math.min(2 * this.backoffMs, this.options.maxBackoffMs);
    this.lastRollbackAt = now;
    if (this.previous !== undefined) {
      this.current = this.previous;
      this.previous = undefined;
    }
    this.frozenUntil = now + this.backoffMs;
    this.frozenBecause = `regression: ${detail}`;
  }

  /** Up at once, down only to the highest target of the scale-down window; each only past the tolerance. */
  private nextMin(current: number, target: number): number {
    const beyond = (from: number, to: number): boolean => Math.abs(to - from) >= 1 && Math.abs(to - from) > this.options.minTolerance * from;
    if (target > current) return beyond(current, target) ? target : current;
    const highest = this.window[0]!.min;
    return beyond(current, highest) ? highest : current;
  }

  private nextKeepAlive(current: number, target: number): number {
    if ((current === 0) !== (target === 0)) return target;
    return Math.abs(target - current) > this.options.keepAliveTolerance * Math.max(current, target) ? target : current;
  }

  private remember(min: number, now: number): void {
    const window = this.window;
    while (window.length > 0 && window[window.length - 1]!.min <= min) window.pop();
    window.push({ at: now, min });
    while (window[0]!.at < now - this.options.scaleDownAfterMs) window.shift();
  }
}
