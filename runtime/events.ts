import type { RuntimeEvent, RuntimeEventInput } from '../shared/events.js';
import { monotonicNs } from './clock.js';

export type EventListener = (event: RuntimeEvent) => void;

/**
 * The runtime's event log: a bounded ring of recent events plus live listeners.
 * Publishing costs an object and an array store; nothing is serialised unless someone reads.
 */
export class EventLog {
  private readonly ring: (RuntimeEvent | undefined)[];
  private next = 1;
  private readonly listeners = new Set<EventListener>();

  constructor(private readonly capacity = 16384) {
    this.ring = new Array(capacity);
  }

  /** Takes ownership of `input`: it is stamped in place (no copy on the hot path). Returns its seq. */
  publish(input: RuntimeEventInput): number {
    const event = input as RuntimeEvent;
    event.seq = this.next;
    event.ts = monotonicNs();
    this.ring[this.next % this.capacity] = event;
    this.next++;
    for (const listener of this.listeners) listener(event);
    return event.seq;
  }

  /** Events with seq > after that are still in the ring, oldest first. */
  since(after: number): RuntimeEvent[] {
    const first = Math.max(after + 1, this.next - this.capacity, 1);
    const events: RuntimeEvent[] = [];
    for (let seq = first; seq < this.next; seq++) events.push(this.ring[seq % this.capacity]!);
    return events;
  }

  get lastSeq(): number {
    return this.next - 1;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
