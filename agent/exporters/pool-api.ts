// GET /v1/pool: each function's live pool, from the runtime's GET /v1/workers (which needs the
// runtime's token) summarised for readers of the agent's public API, such as the web UI.
import type { WorkerList, WorkerSummary } from '../../shared/api.js';

export type PoolState = 'warm' | 'busy' | 'starting' | 'draining';

export interface PoolWorker extends Omit<WorkerSummary, 'function' | 'status' | 'spawnToReadyMs' | 'privateMemoryMb'> {
  state: PoolState;
}

export interface FunctionPool {
  function: string;
  /** Workers in each state: warm (ready and idle), busy, starting (or being specialised from a stem cell), draining. */
  counts: Record<PoolState, number>;
  workers: PoolWorker[];
}

export interface PoolView {
  functions: FunctionPool[];
  /** Processes started ahead of need, for any function: seeds, and Node stem cells. */
  seedsReady: number;
  stemCellsReady: number;
}

/** The runtime's worker statuses as pool states; the others (exited) are not part of a pool. */
const STATES: Record<string, PoolState> = { idle: 'warm', busy: 'busy', starting: 'starting', specialising: 'starting', draining: 'draining' };

export function poolView(list: WorkerList): PoolView {
  const pools = new Map<string, FunctionPool>();
  for (const { function: fn, status, pid, origin, invocations, ageMs } of list.workers) {
    const state = STATES[status];
    if (state === undefined) continue;
    let pool = pools.get(fn);
    if (pool === undefined) pools.set(fn, (pool = { function: fn, counts: { warm: 0, busy: 0, starting: 0, draining: 0 }, workers: [] }));
    pool.counts[state]++;
    pool.workers.push({ pid, state, origin, invocations, ageMs });
  }
  return { functions: [...pools.values()].sort((a, b) => a.function.localeCompare(b.function)), seedsReady: list.seedsReady, stemCellsReady: list.stemCellsReady };
}
