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
}

/** The part of GET /v1/functions the agent uses. */
export interface FunctionSummary {
  name: string;
  kind: 'go' | 'node' | 'exec';
  version: number;
  /** What workers exec (Go and exec functions), or the JS entry (Node). */
  binary: string;
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
}

/** GET /v1/workers: the live workers, and the processes started ahead of need. */
export interface WorkerList {
  workers: WorkerSummary[];
  seedsReady: number;
  stemCellsReady: number;
}
