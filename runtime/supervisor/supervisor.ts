import fs from 'node:fs';
import { HearthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Cgroups } from './cgroup.js';
import { Worker, type LaunchSpec, type WorkerContext, type WorkerHooks } from './worker.js';

export interface SupervisorOptions {
  maxPayload: number;
  startTimeoutMs: number;
  timeoutGraceMs: number;
  shutdownGraceMs: number;
}

/** Starts workers with their limits and keeps the set of every live worker process. */
export class Supervisor {
  readonly live = new Set<Worker>();
  private nextId = 1;
  private readonly context: WorkerContext;

  constructor(
    readonly cgroups: Cgroups,
    log: Logger,
    options: SupervisorOptions,
  ) {
    this.context = { log, devNull: fs.openSync('/dev/null', 'r+'), reaped: (worker) => this.live.delete(worker), ...options };
  }

  allocateId(): number {
    return this.nextId++;
  }

  start(id: number, launch: LaunchSpec, hooks: WorkerHooks): Worker {
    let cgroup;
    try {
      cgroup = this.cgroups.create(`w${id}`, launch.memoryMb);
    } catch (error) {
      throw new HearthError('HEARTH_ERR_SPAWN', `creating the cgroup for a worker of ${launch.fn}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const worker = new Worker(id, launch, cgroup, this.context, hooks);
      this.live.add(worker);
      return worker;
    } catch (error) {
      cgroup?.remove();
      throw error;
    }
  }

  /** Asks every worker to stop, SIGKILLs the ones still there after the grace period, and waits. */
  async stopAll(reason: string): Promise<void> {
    const pending = [...this.live];
    if (pending.length === 0) return;
    for (const worker of pending) worker.shutdown(reason);
    const deadline = Date.now() + this.context.shutdownGraceMs + 2000;
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const worker of this.live) worker.kill(`still running at shutdown`, 'HEARTH_ERR_SHUTTING_DOWN');
    while (this.live.size > 0 && Date.now() < deadline + 2000) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  close(): void {
    fs.closeSync(this.context.devNull);
  }
}
