// Idle worker time per function, read from the runtime's event log: a worker is idle from the
// moment it is ready, or has answered, until it takes the next request or exits (workers of
// the replayed functions take one request at a time). Only the time inside a window counts:
// the replay, from its first scheduled arrival to the end of the trace. Times are the events'
// clock, CLOCK_MONOTONIC nanoseconds.
import type { RuntimeEvent } from '../../shared/events.js';

export class IdleTime {
  private readonly idleSince = new Map<number, { fn: string; since: number }>();
  private readonly totals = new Map<string, number>();
  /** Idle periods that ended with the worker's exit, ms: under a keep-alive of 0, the time a worker takes to stop. */
  readonly untilExitMs: number[] = [];

  constructor(
    private readonly fromNs: number,
    private readonly untilNs: number,
  ) {}

  take(event: RuntimeEvent): void {
    switch (event.type) {
      case 'worker_ready':
      case 'invoke_end':
        this.close(event.workerId, event.ts);
        this.idleSince.set(event.workerId, { fn: event.function, since: event.ts });
        break;
      case 'invoke_start':
        this.close(event.workerId, event.ts);
        break;
      case 'worker_exit': {
        const since = this.close(event.workerId, event.ts);
        if (since !== undefined && since >= this.fromNs && event.ts <= this.untilNs) this.untilExitMs.push((event.ts - since) / 1e6);
        break;
      }
      default:
        break;
    }
  }

  /** Idle seconds per function within the window; workers idle at its end count up to it. */
  seconds(): Map<string, number> {
    const totals = new Map(this.totals);
    for (const { fn, since } of this.idleSince.values()) totals.set(fn, (totals.get(fn) ?? 0) + this.inside(since, this.untilNs));
    return new Map([...totals].map(([fn, ns]) => [fn, ns / 1e9]));
  }

  /** Ends the worker's idle period, if it had one open, and returns when that period began. */
  private close(workerId: number, at: number): number | undefined {
    const open = this.idleSince.get(workerId);
    if (open === undefined) return undefined;
    this.idleSince.delete(workerId);
    this.totals.set(open.fn, (this.totals.get(open.fn) ?? 0) + this.inside(open.since, at));
    return open.since;
  }

  private inside(from: number, to: number): number {
    return Math.max(0, Math.min(to, this.untilNs) - Math.max(from, this.fromNs));
  }
}
