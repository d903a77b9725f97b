import * as native from '../../native/index.js';

export type ExitListener = (code: number | null, signal: string | null) => void;

/** A started worker process, however it was started (directly, or from a seed). */
export interface WorkerProcess {
  readonly pid: number;
  readonly origin: 'seed' | 'spawn';
  /** Calls the listener once when the process has exited and been reaped. */
  onExit(listener: ExitListener): void;
  /** Why the process failed before its program ran, when it did. */
  readonly startFailure: string | undefined;
}

/** Holds an exit that may arrive before anyone listens for it. */
export class ExitLatch {
  private listener: ExitListener | undefined;
  private result: [number | null, string | null] | undefined;

  listen(listener: ExitListener): void {
    this.listener = listener;
    if (this.result !== undefined) listener(...this.result);
  }

  exited(code: number | null, signal: string | null): void {
    this.result = [code, signal];
    this.listener?.(code, signal);
  }

  get hasExited(): boolean {
    return this.result !== undefined;
  }
}

/** A process started by the native spawn helper (clone with CLONE_VM|CLONE_VFORK). */
export class DirectProcess implements WorkerProcess {
  readonly origin = 'spawn';
  readonly startFailure = undefined;
  private readonly latch = new ExitLatch();

  constructor(
    readonly pid: number,
    pidfd: number,
  ) {
    native.watchExit(pidfd, (code, signal) => this.latch.exited(code, signal));
  }

  onExit(listener: ExitListener): void {
    this.latch.listen(listener);
  }
}
