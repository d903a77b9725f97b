import type { Logger } from '../shared/log.js';

interface Holder {
  acked: number;
}

interface Waiter {
  seq: number;
  resolve: () => void;
}

/**
 * Lets a tracer (the agent) hold back a new binary's first worker until its probes are on.
 * A holder is an event follower that asked to hold; it acknowledges events by sequence
 * number (cumulatively) once it has acted on them. A deploy waits, at most `timeoutMs`,
 * until every holder has acknowledged the event announcing the binary: so with the agent
 * attached, cold starts are never missed, and without one nothing waits.
 */
export class ProbeGate {
  private readonly holders = new Map<number, Holder>();
  private readonly waiters = new Set<Waiter>();
  private nextId = 1;

  constructor(
    private readonly log: Logger,
    private readonly timeoutMs = 2000,
  ) {}

  /** A new holder that has acknowledged everything up to `acked`; returns its id. */
  register(acked: number): number {
    const id = this.nextId++;
    this.holders.set(id, { acked });
    return id;
  }

  /** The holder went away (its stream closed): nothing waits for it any more. */
  release(id: number): void {
    if (this.holders.delete(id)) this.settle();
  }

  /** Records that holder `id` has acted on every event up to `seq`. False if there is no such holder. */
  ack(id: number, seq: number): boolean {
    const holder = this.holders.get(id);
    if (holder === undefined) return false;
    holder.acked = Math.max(holder.acked, seq);
    this.settle();
    return true;
  }

  get holderCount(): number {
    return this.holders.size;
  }

  /** Resolves once every holder has acknowledged `seq`, or after the timeout (logged, not thrown). */
  wait(seq: number, what: string): Promise<void> {
    if (this.cleared(seq)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        this.log.warn(`${what}: ${this.pending(seq)} tracer(s) did not confirm their probes within ${this.timeoutMs} ms; starting without waiting`);
        resolve();
      }, this.timeoutMs);
      const waiter: Waiter = {
        seq,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.add(waiter);
    });
  }

  private cleared(seq: number): boolean {
    return this.pending(seq) === 0;
  }

  private pending(seq: number): number {
    let count = 0;
    for (const holder of this.holders.values()) if (holder.acked < seq) count++;
    return count;
  }

  private settle(): void {
    for (const waiter of this.waiters) {
      if (!this.cleared(waiter.seq)) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }
}
