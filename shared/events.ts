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

/** A line of GET /v1/events that is not a runtime event. */
export class RuntimeEventError extends Error {
  override name = 'RuntimeEventError';
}

type FieldKind = 'string' | 'number' | 'boolean' | 'number|null' | 'string|null' | 'number[]' | 'string?' | 'number?';

/** The fields a reader relies on, per event type (the types above), beside type, seq and ts. */
const EVENT_FIELDS: Record<RuntimeEventType, Record<string, FieldKind>> = {
  spawn_requested: { function: 'string', workerId: 'number', reason: 'string', requestId: 'number?' },
  worker_spawned: { function: 'string', workerId: 'number', pid: 'number', binary: 'string', origin: 'string' },
  worker_ready: { function: 'string', workerId: 'number', pid: 'number', spawnToReadyMs: 'number' },
  invoke_start: { function: 'string', id: 'number', workerId: 'number', pid: 'number', cold: 'boolean', waitedMs: 'number' },
  invoke_end: { function: 'string', id: 'number', workerId: 'number', pid: 'number', cold: 'boolean', status: 'number', errorCode: 'string?', durationMs: 'number', latencyMs: 'number' },
  invoke_refused: { function: 'string', id: 'number', status: 'number', errorCode: 'string', waitedMs: 'number' },
  worker_exit: { function: 'string', workerId: 'number', pid: 'number', code: 'number|null', signal: 'string|null', reason: 'string', inflight: 'number[]', peakMemoryBytes: 'number?', oomKilled: 'boolean' },
  function_prepared: { function: 'string', version: 'number', kind: 'string', binary: 'string', entry: 'string?' },
  function_deployed: { function: 'string', version: 'number', stateId: 'string?' },
  function_removed: { function: 'string' },
};

/** EVENT_FIELDS as lists, made once: the agent checks every event it follows against them. */
const FIELD_LISTS = Object.fromEntries(Object.entries(EVENT_FIELDS).map(([type, fields]) => [type, Object.entries(fields)])) as Record<RuntimeEventType, [string, FieldKind][]>;

function fits(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'number|null':
      return value === null || fits(value, 'number');
    case 'string|null':
      return value === null || typeof value === 'string';
    case 'number[]':
      return Array.isArray(value) && value.every((item) => fits(item, 'number'));
    case 'string?':
      return value === undefined || typeof value === 'string';
    case 'number?':
      return value === undefined || fits(value, 'number');
  }
}

/** One line of GET /v1/events as a RuntimeEvent; throws RuntimeEventError naming what is wrong. */
export function parseRuntimeEvent(line: string): RuntimeEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new RuntimeEventError(`not JSON (${(error as Error).message}): ${line.slice(0, 120)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RuntimeEventError(`not a JSON object: ${line.slice(0, 120)}`);
  const event = value as Record<string, unknown>;
  const type = event['type'];
  if (typeof type !== 'string' || !(RUNTIME_EVENT_TYPES as readonly string[]).includes(type)) throw new RuntimeEventError(`unknown event type ${JSON.stringify(type)?.slice(0, 60)}`);
  if (!Number.isSafeInteger(event['seq']) || (event['seq'] as number) < 1) throw new RuntimeEventError(`${type}: seq must be a positive integer`);
  if (!fits(event['ts'], 'number')) throw new RuntimeEventError(`${type}: ts must be a number`);
  for (const [field, kind] of FIELD_LISTS[type as RuntimeEventType]) {
    if (!fits(event[field], kind)) throw new RuntimeEventError(`${type} ${event['seq']}: ${field} must be ${kind.replace('?', ' or absent')}`);
  }
  return event as unknown as RuntimeEvent;
}
