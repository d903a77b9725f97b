import type { FunctionStats, WorkerStats } from '../../shared/api.js';
import { nowMs } from '../clock.js';
import type { FunctionPool } from '../pool/pool.js';
import { processCpuSeconds, privateMemoryBytes } from '../supervisor/proc-usage.js';
import type { Worker } from '../supervisor/worker.js';

/** How long GET /v1/functions/NAME/stats waits for workers by default, and at most (`timeoutMs`). */
export const DEFAULT_STATS_TIMEOUT_MS = 1000;
export const MAX_STATS_TIMEOUT_MS = 5000;

/**
 * Every ready worker's `stats` reply beside the runtime's own view of the worker (CPU time,
 * cgroup memory), asked in parallel; a worker that does not answer within `timeoutMs` is
 * listed with its error rather than holding up the others.
 */
export async function gatherFunctionStats(pool: FunctionPool, timeoutMs: number): Promise<FunctionStats> {
  const { spec, version } = pool.current;
  const now = nowMs();
  const ready = pool.listWorkers().filter((worker) => worker.status === 'ready');
  const workers = await Promise.all(ready.map((worker) => workerStats(worker, now, timeoutMs)));
  return {
    function: spec.name,
    kind: spec.kind,
    version,
    unixMs: Date.now(),
    memoryLimitMb: spec.limits.memoryMb,
    recycleMemoryMb: spec.limits.recycleMemoryMb,
    gc: spec.gc,
    oomKills: pool.oomKills,
    workers,
  };
}

async function workerStats(worker: Worker, now: number, timeoutMs: number): Promise<WorkerStats> {
  let sdk: Record<string, unknown> | null = null;
  let error: string | undefined;
  try {
    sdk = await worker.control({ op: 'stats' }, timeoutMs);
  } catch (failure) {
    error = (failure as Error).message;
  }
  // Read after the reply, so that both describe the same moment as nearly as possible.
  const memory = worker.memory();
  return {
    pid: worker.pid,
    id: worker.id,
    version: worker.version,
    status: worker.busy ? 'busy' : 'idle',
    invocations: worker.invocations,
    ageMs: Math.round(now - worker.spawnedAt),
    cpuSeconds: processCpuSeconds(worker.pid) ?? null,
    memoryBytes: memory?.currentBytes ?? null,
    peakMemoryBytes: memory?.peakBytes ?? null,
    privateBytes: privateMemoryBytes(worker.pid),
    sdk,
    ...(error === undefined ? {} : { error }),
  };
}
