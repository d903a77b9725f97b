// Shapes of the runtime's API that the agent reads (GET /v1/info, GET /v1/functions, GET /v1/workers).

import type { WorkerOrigin } from './events.js';

export interface RuntimeInfo {
  /** The runtime's pid: the agent traces its descendants. */
  pid: number;
  version: string;
  node: string;
  seedBinary: string;
  /** The Node binary that Node workers and stem cells run. */
  nodeBinary: string;
  /** The native addon that Node workers load; its hearth_marker_* functions are probe points. */
  nodeAddon: string;
  lastEventSeq: number;
  /** Co-location (README, "Co-location"): the mode, and the CPU the runtime and its workers are held on now (null: spread). */
  colocation: { mode: 'auto' | 'off'; cpu: number | null };
}

/** A function's pool settings (the manifest's `pool`, or the last PATCH). */
export interface PoolSettings {
  min: number;
  max: number;
  keepAliveMs: number;
  spare: number;
  maxQueued: number;
}

/** The part of GET /v1/functions (and GET /v1/functions/NAME) the agent uses. */
export interface FunctionSummary {
  name: string;
  kind: 'go' | 'node' | 'exec';
  version: number;
  /** What workers exec (Go and exec functions), or the JS entry (Node). */
  binary: string;
  pool: PoolSettings;
  limits: { memoryMb: number; timeoutMs: number };
  /** The manifest's `gc` fields that are set (GOGC and GOMEMLIMIT in MiB for Go; V8's heap sizes in MiB for Node). */
  gc: Partial<Record<'gogc' | 'memoryLimitMb' | 'maxOldSpaceMb' | 'maxSemiSpaceMb', number>>;
}

/** The part of one GET /v1/workers entry the agent uses. */
export interface WorkerSummary {
  pid: number;
  function: string;
  /** starting, stem, specialising, idle, busy, draining or exited. */
  status: string;
  origin: WorkerOrigin;
  invocations: number;
  ageMs: number;
  /** From the spawn decision to ready, ms; null while starting. */
  spawnToReadyMs: number | null;
  /** Asked for with ?memory=1: PSS without the state, MiB. */
  privateMemoryMb?: number;
}

/** GET /v1/workers: the live workers, and the processes started ahead of need. */
export interface WorkerList {
  workers: WorkerSummary[];
  seedsReady: number;
  stemCellsReady: number;
}

/** One worker in GET /v1/functions/NAME/stats: the runtime's view of it and the SDK's `stats` reply. */
export interface WorkerStats {
  pid: number;
  id: number;
  /** The function version the worker runs (GET /v1/functions/NAME's `version` is the current one). */
  version: number;
  /** idle or busy. */
  status: string;
  invocations: number;
  ageMs: number;
  /** User plus system CPU of the process and its threads since it started (/proc/PID/stat). */
  cpuSeconds: number | null;
  /** Its cgroup's memory now and at most so far; null when limits are not enforced. */
  memoryBytes: number | null;
  peakMemoryBytes: number | null;
  /** Resident memory not shared (what `limits.recycleMemoryMb` is compared with). */
  privateBytes: number;
  /** The SDK's `stats` reply (runtime/ipc/PROTOCOL.md), or null when the worker did not answer; `error` says why. */
  sdk: Record<string, unknown> | null;
  error?: string;
}

/** GET /v1/functions/NAME/stats: what a GC tuner needs of a function, gathered from every ready worker. */
export interface FunctionStats {
  function: string;
  kind: 'go' | 'node' | 'exec';
  version: number;
  /** Unix ms when the runtime gathered the figures. */
  unixMs: number;
  memoryLimitMb: number;
  recycleMemoryMb: number;
  /** The GC settings in force (the manifest's `gc`, as changed by PATCH). */
  gc: { gogc?: number; memoryLimitMb?: number; maxOldSpaceMb?: number; maxSemiSpaceMb?: number };
  /** Workers of this function killed by the kernel's OOM killer since it was deployed. */
  oomKills: number;
  workers: WorkerStats[];
}
