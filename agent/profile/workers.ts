import type { RuntimeEvent } from '../../shared/events.js';

export interface WorkerIdentity {
  pid: number;
  function: string;
  binary: string;
}

/** How long an exited worker is remembered: its last samples are read after it is gone. */
const KEEP_EXITED_MS = 30_000;

/** Which function a process belongs to, from the runtime's events (and its worker list at start). */
export class WorkerDirectory {
  private readonly byPid = new Map<number, WorkerIdentity>();
  private readonly exited = new Map<number, number>();

  constructor(private readonly onForget: (pid: number) => void) {}

  add(identity: WorkerIdentity): void {
    this.exited.delete(identity.pid);
    this.byPid.set(identity.pid, identity);
  }

  get(pid: number): WorkerIdentity | undefined {
    return this.byPid.get(pid);
  }

  /** Follows worker_spawned and worker_exit; returns the new worker when one appeared. */
  runtime(event: RuntimeEvent, nowMs: number): WorkerIdentity | undefined {
    if (event.type === 'worker_spawned') {
      const identity = { pid: event.pid, function: event.function, binary: event.binary };
      this.add(identity);
      return identity;
    }
    if (event.type === 'worker_exit' && this.byPid.get(event.pid)?.function === event.function) this.exited.set(event.pid, nowMs);
    return undefined;
  }

  /** Forgets workers that exited long enough ago. */
  sweep(nowMs: number): void {
    for (const [pid, at] of this.exited) {
      if (nowMs - at < KEEP_EXITED_MS) break;
      this.exited.delete(pid);
      this.byPid.delete(pid);
      this.onForget(pid);
    }
  }

  get size(): number {
    return this.byPid.size;
  }
}
