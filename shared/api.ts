// Shapes of the runtime's API that the agent reads (GET /v1/info, GET /v1/functions).

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
