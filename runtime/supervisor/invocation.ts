import type { WorkerOrigin } from '../../shared/events.js';
import type { HearthError } from '../../shared/errors.js';

/** One request on its way through a pool to a worker and back. */
export interface Invocation {
  readonly id: number;
  readonly fn: string;
  readonly body: Buffer;
  /** nowMs() when the request arrived. */
  readonly arrivedAt: number;
  /** nowMs() by which it must be answered. */
  readonly deadline: number;
  /** nowMs() when it was sent to a worker (0 while queued). */
  dispatchedAt: number;
  /** It waited for a worker that was started for it (or was still starting). */
  cold: boolean;
  /** Time spent waiting for a worker's start, in ms (0 when warm). */
  startWaitMs: number;
  /** How the serving worker was started (reported for cold starts). */
  origin: WorkerOrigin | undefined;
  workerId: number;
  pid: number;
  settled: boolean;
  /** Sent by the runtime itself (a profiling run's generated workload), not by a client: left out of events and metrics. */
  readonly generated?: boolean;
  /** Called once with how it ended (the invocation itself comes along, so the hot path allocates no wrapper). */
  readonly done: (outcome: Settlement, invocation: Invocation) => void;
}

/** A request that has just arrived, not yet sent to a worker. Every invocation has this one shape (the invoke path is hot). */
export function newInvocation(request: Pick<Invocation, 'id' | 'fn' | 'body' | 'arrivedAt' | 'deadline' | 'done' | 'generated'>): Invocation {
  const { id, fn, body, arrivedAt, deadline, generated, done } = request;
  return { id, fn, body, arrivedAt, deadline, dispatchedAt: 0, cold: false, startWaitMs: 0, origin: undefined, workerId: 0, pid: 0, settled: false, generated, done };
}

export type Settlement = { ok: true; body: Buffer } | { ok: false; error: HearthError; errorType?: string };

export function settle(invocation: Invocation, outcome: Settlement): void {
  if (invocation.settled) return;
  invocation.settled = true;
  invocation.done(outcome, invocation);
}
