// Events the runtime publishes for the agent and other observers (GET /v1/events).
// Timestamps are CLOCK_MONOTONIC nanoseconds, the clock bpf_ktime_get_ns() reads, so
// kernel-side timings join to these without conversion.

export const RUNTIME_EVENT_TYPES = [
  'spawn_requested',
  'worker_spawned',
  'worker_ready',
  'invoke_start',
  'invoke_end',
  'invoke_refused',
  'worker_exit',
  'function_prepared',
  'function_deployed',
  'function_removed',
] as const;
export type RuntimeEventType = (typeof RUNTIME_EVENT_TYPES)[number];

export type SpawnReason = 'cold' | 'prewarm' | 'replace' | 'stem' | 'validate' | 'profile';
/** How a worker process came to be: exec'd by a ready seed, spawned directly, or a specialised Node stem cell. */
export type WorkerOrigin = 'seed' | 'spawn' | 'stem-cell';

interface Base<T extends RuntimeEventType> {
  type: T;
  /** Position in the runtime's event log, from 1, with no gaps. */
  seq: number;
  /** CLOCK_MONOTONIC nanoseconds. */
  ts: number;
}

export type RuntimeEvent =
  | (Base<'spawn_requested'> & { function: string; workerId: number; reason: SpawnReason; requestId?: number })
  | (Base<'worker_spawned'> & { function: string; workerId: number; pid: number; binary: string; origin: WorkerOrigin })
  | (Base<'worker_ready'> & { function: string; workerId: number; pid: number; spawnToReadyMs: number })
  /** Sent to a worker; it arrived `waitedMs` earlier (queued, or waiting for a cold start). */
  | (Base<'invoke_start'> & { function: string; id: number; workerId: number; pid: number; cold: boolean; waitedMs: number })
  /** Answered: `durationMs` from dispatch to the answer (the execution), `latencyMs` from arrival. */
  | (Base<'invoke_end'> & { function: string; id: number; workerId: number; pid: number; cold: boolean; status: number; errorCode?: string; durationMs: number; latencyMs: number })
  /** Refused before any worker took it (queue full, deadline passed while queued, workers failing to start). */
  | (Base<'invoke_refused'> & { function: string; id: number; status: number; errorCode: string; waitedMs: number })
  | (Base<'worker_exit'> & {
      function: string;
      workerId: number;
      pid: number;
      code: number | null;
      signal: string | null;
      reason: string;
      inflight: number[];
      peakMemoryBytes?: number;
      oomKilled: boolean;
    })
  /** A version's code is built and about to start its first worker: the agent attaches its probes to `binary`. */
  | (Base<'function_prepared'> & { function: string; version: number; kind: 'go' | 'node' | 'exec'; binary: string; entry?: string })
  | (Base<'function_deployed'> & { function: string; version: number; stateId?: string })
  | (Base<'function_removed'> & { function: string });

export type RuntimeEventInput = RuntimeEvent extends infer E ? (E extends RuntimeEvent ? Omit<E, 'seq' | 'ts'> : never) : never;
