// The shape of a function as the runtime keeps it, after validation and defaults.
// docs/manifest.md documents every field; parse.ts enforces it.

export const FUNCTION_KINDS = ['go', 'node', 'exec'] as const;
export type FunctionKind = (typeof FUNCTION_KINDS)[number];

export interface PoolSpec {
  /** Workers kept warm even when idle. */
  min: number;
  /** Most workers at once. */
  max: number;
  /** An idle worker above `min` is retired after this long. */
  keepAliveMs: number;
  /** Idle workers kept beyond those running: when a request takes one, another is started at once. */
  spare: number;
  /** Most requests waiting for a worker; beyond it the runtime answers 429. */
  maxQueued: number;
}

export interface LimitsSpec {
  memoryMb: number;
  timeoutMs: number;
  /** Most invocations one worker handles at once. */
  concurrency: number;
  /** Recycle a worker after this many invocations; 0 = never. */
  maxInvocations: number;
  /** Recycle a worker whose private memory grows past this; 0 = never. */
  recycleMemoryMb: number;
  /** Most processes and threads one worker may have (the pids cgroup; RLIMIT_NPROC without it). */
  pids: number;
}

/** Who a function's workers run as, and under which system call filter (SECURITY.md). */
export interface IsolationSpec {
  /**
   * A uid, a user name, or RUNTIME_USER (the runtime's own user). Absent: a uid of the
   * function's own when the runtime can switch users (as root), else the runtime's.
   */
  user?: number | string;
  /** A gid or group name. Absent: the named user's primary group, else the same number as the uid. */
  group?: number | string;
  /** The worker seccomp filter (native/sandbox/sandbox.c); off only for functions that need more. */
  seccomp: boolean;
}

/** `isolation.user` that keeps workers as the runtime's own user. */
export const RUNTIME_USER = 'runtime';

export interface GcSpec {
  gogc?: number;
  memoryLimitMb?: number;
  maxOldSpaceMb?: number;
  maxSemiSpaceMb?: number;
}

export interface FunctionSpec {
  name: string;
  kind: FunctionKind;
  /** Absolute path: a Go package directory or binary, a JS/TS file, or an executable. */
  entry: string;
  /** Extra arguments for `exec` functions and prebuilt binaries. */
  args: string[];
  /** Absolute path of the state file, if any. */
  state?: string;
  pool: PoolSpec;
  limits: LimitsSpec;
  gc: GcSpec;
  env: Record<string, string>;
  isolation: IsolationSpec;
}

export const DEFAULT_POOL: PoolSpec = { min: 0, max: 4, keepAliveMs: 600_000, spare: 0, maxQueued: 256 };
export const DEFAULT_LIMITS: Omit<LimitsSpec, 'recycleMemoryMb'> = {
  memoryMb: 512,
  timeoutMs: 30_000,
  concurrency: 1,
  maxInvocations: 0,
  pids: 256,
};

export const GO_GC_FIELDS = ['gogc', 'memoryLimitMb'] as const;
export const NODE_GC_FIELDS = ['maxOldSpaceMb', 'maxSemiSpaceMb'] as const;
