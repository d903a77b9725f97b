// Turns the runtime's event log into what the pool policies and the regression watcher read:
// per function, `arrival` and `end` events on the policy clock (CLOCK_MONOTONIC ms, the
// clock of the events' timestamps), and each answered or refused request's latency and
// whether it failed. An arrival is known only when a worker takes the request (invoke_start
// says how long it waited), so arrivals can come out of order with ends seen earlier; a
// function's events are handed on in time order, and an arrival older than what was already
// handed on counts as arriving then (by at most the wait, a cold start or a queue).

import type { RuntimeEvent } from '../../../shared/events.js';
import type { PoolEvent } from '../policies/policy.js';

/** One request's outcome, for the regression watcher. */
export interface Outcome {
  function: string;
  /** When it was answered (or refused), ms. */
  at: number;
  latencyMs: number;
  /** The part of it spent waiting for a worker (a cold start, or a queue): what pool settings change. */
  waitMs: number;
  /** A 5xx answer or a refusal (429/503): the client did not get the handler's answer. */
  failed: boolean;
}

export interface FeedBatch {
  /** Per function, in time order. */
  events: Map<string, PoolEvent[]>;
  outcomes: Outcome[];
}

interface InFlight {
  function: string;
  arrival: number;
  waitedMs: number;
}

export class InvocationFeed {
  private readonly inFlight = new Map<number, InFlight>();
  /** The latest time handed on per function: nothing older goes out after it. */
  private readonly handedOn = new Map<string, number>();
  private lastSeq: number | undefined;
  /** Events the stream skipped (seq gaps: the runtime's ring overflowed while we were away). */
  lost = 0;

  /** Converts one batch of runtime events (in seq order). */
  take(events: readonly RuntimeEvent[]): FeedBatch {
    const byFunction = new Map<string, PoolEvent[]>();
    const outcomes: Outcome[] = [];
    const push = (event: PoolEvent): void => {
      let list = byFunction.get(event.function);
      if (list === undefined) byFunction.set(event.function, (list = []));
      list.push(event);
    };
    for (const event of events) {
      if (this.lastSeq !== undefined && event.seq > this.lastSeq + 1) this.lost += event.seq - this.lastSeq - 1;
      this.lastSeq = Math.max(this.lastSeq ?? 0, event.seq);
      const at = event.ts / 1e6;
      switch (event.type) {
        case 'invoke_start': {
          const arrival = at - event.waitedMs;
          this.inFlight.set(event.id, { function: event.function, arrival, waitedMs: event.waitedMs });
          push({ kind: 'arrival', function: event.function, at: arrival });
          break;
        }
        case 'invoke_end': {
          // An end whose start came before we followed would make the policy count one request too few in flight.
          const flight = this.inFlight.get(event.id);
          if (flight === undefined) break;
          this.inFlight.delete(event.id);
          push({ kind: 'end', function: event.function, at, durationMs: event.durationMs, cold: event.cold });
          outcomes.push({ function: event.function, at, latencyMs: event.latencyMs, waitMs: flight.waitedMs, failed: event.status >= 500 });
          break;
        }
        case 'invoke_refused':
          outcomes.push({ function: event.function, at, latencyMs: event.waitedMs, waitMs: event.waitedMs, failed: true });
          break;
        case 'function_removed':
          for (const [id, flight] of this.inFlight) if (flight.function === event.function) this.inFlight.delete(id);
          this.handedOn.delete(event.function);
          break;
        default:
          break;
      }
    }
    for (const [fn, list] of byFunction) {
      // Stable: an arrival and an end at the same moment keep the order the runtime gave them.
      list.sort((a, b) => a.at - b.at);
      let floor = this.handedOn.get(fn) ?? -Infinity;
      for (const event of list) {
        if (event.at < floor) event.at = floor;
        floor = event.at;
      }
      this.handedOn.set(fn, floor);
    }
    return { events: byFunction, outcomes };
  }

  /**
   * Ends for requests that must have ended unseen: in flight longer than their function's
   * timeout allows (the runtime answers every request by its deadline, so their end was
   * lost, e.g. in a break of the event stream). Without it, the policy would count them in
   * flight for ever.
   */
  sweep(now: number, timeoutMs: (fn: string) => number): Map<string, PoolEvent[]> {
    const ends = new Map<string, PoolEvent[]>();
    for (const [id, flight] of this.inFlight) {
      if (now - flight.arrival <= timeoutMs(flight.function)) continue;
      this.inFlight.delete(id);
      const at = Math.max(now, this.handedOn.get(flight.function) ?? -Infinity);
      this.handedOn.set(flight.function, at);
      const list = ends.get(flight.function) ?? [];
      list.push({ kind: 'end', function: flight.function, at, durationMs: now - flight.arrival, cold: false });
      ends.set(flight.function, list);
    }
    return ends;
  }

  /** Requests in flight now, per function (for the status). */
  inFlightCount(fn: string): number {
    let count = 0;
    for (const flight of this.inFlight.values()) if (flight.function === fn) count++;
    return count;
  }
}
