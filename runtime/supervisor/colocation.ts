// Applies the co-location policy (colocation-policy.ts): measures the runtime's and its
// workers' load every tick, and holds the runtime's thread and every thread of its live
// workers on one CPU, or gives them the host's CPUs back.
import * as native from '../../native/index.js';
import type { Logger } from '../../shared/log.js';
import { COLOCATION_TICK_MS, ColocationPolicy, MAX_COLOCATED_WORKERS } from './colocation-policy.js';
import { cpuBusySeconds, processCpuSeconds } from './proc-usage.js';
import { processThreads } from './threads.js';

export type ColocationMode = 'auto' | 'off';

/** The CPU this process's main thread is held on, and the CPUs it had before; undefined while it is not held. */
let heldMainThread: { cpu: number; hostCpus: number[] } | undefined;

/**
 * Runs `start` with the main thread on the host's CPUs: a process it starts inherits that
 * thread's affinity, and must not inherit the co-location's one CPU (a `go build` would run
 * on it alone).
 */
export function withHostAffinity<T>(start: () => T): T {
  const held = heldMainThread;
  if (held === undefined) return start();
  native.setAffinity(0, held.hostCpus);
  try {
    return start();
  } finally {
    native.setAffinity(0, [held.cpu]);
  }
}

export class Colocation {
  /** The CPUs the runtime may use, read at start: what every worker starts on, and gets back. */
  readonly hostCpus: number[];
  private readonly policy = new ColocationPolicy();
  private timer: NodeJS.Timeout | undefined;
  private cpu: number | undefined;
  /** Workers whose threads are held on `cpu`. */
  private readonly held = new Set<number>();
  private lastAtMs = 0;
  private lastRuntimeCpuUs = 0;
  /** The shared CPU's busy seconds at the last tick, while co-located. */
  private lastCpuBusyS: number | undefined;
  private readonly lastWorkerCpu = new Map<number, number>();

  constructor(
    private mode: ColocationMode,
    private readonly liveWorkerPids: () => number[],
    private readonly log: Logger,
  ) {
    this.hostCpus = native.getAffinity(0);
    if (this.mode === 'auto' && this.hostCpus.length < 2) {
      this.log.info(`co-location off: the runtime may run on one CPU only (${this.hostCpus.join(',')})`);
      this.mode = 'off';
    }
  }

  start(): void {
    if (this.mode === 'off') return;
    this.lastAtMs = performance.now();
    this.lastRuntimeCpuUs = this.runtimeCpuUs();
    this.timer = setInterval(() => this.tick(), COLOCATION_TICK_MS);
    this.timer.unref();
  }

  /** The CPUs a new worker or seed starts on: the host's, whatever the runtime's thread is held to. Undefined when off (they inherit). */
  get spawnCpus(): number[] | undefined {
    return this.mode === 'off' ? undefined : this.hostCpus;
  }

  status(): { mode: ColocationMode; cpu: number | null } {
    return { mode: this.mode, cpu: this.cpu ?? null };
  }

  /** Stops measuring and gives every thread it held its CPUs back. Never throws: a refusal is logged. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.cpu === undefined) return;
    try {
      this.spread();
    } catch (error) {
      this.log.warn(`co-location: giving the host's CPUs back: ${(error as Error).message}`);
    }
  }

  private runtimeCpuUs(): number {
    const usage = process.cpuUsage();
    return usage.user + usage.system;
  }

  private tick(): void {
    try {
      this.measureAndApply();
    } catch (error) {
      this.log.warn(`co-location off: ${(error as Error).message}`);
      this.mode = 'off';
      this.stop();
    }
  }

  private measureAndApply(): void {
    const nowMs = performance.now();
    const elapsedS = (nowMs - this.lastAtMs) / 1000;
    const runtimeCpuUs = this.runtimeCpuUs();
    const cpuBusyS = this.cpu === undefined ? undefined : cpuBusySeconds(this.cpu);
    const pids = this.liveWorkerPids();
    let workersCpuS = 0;
    const seen = new Set<number>();
    if (pids.length <= MAX_COLOCATED_WORKERS) {
      for (const pid of pids) {
        const cpuS = processCpuSeconds(pid);
        if (cpuS === undefined) continue;
        seen.add(pid);
        const before = this.lastWorkerCpu.get(pid);
        if (before !== undefined) workersCpuS += cpuS - before;
        this.lastWorkerCpu.set(pid, cpuS);
      }
    }
    for (const pid of this.lastWorkerCpu.keys()) if (!seen.has(pid)) this.lastWorkerCpu.delete(pid);
    const loadCpus = ((runtimeCpuUs - this.lastRuntimeCpuUs) / 1e6 + workersCpuS) / elapsedS;
    const sharedCpuBusy = cpuBusyS === undefined || this.lastCpuBusyS === undefined ? undefined : (cpuBusyS - this.lastCpuBusyS) / elapsedS;
    this.lastAtMs = nowMs;
    this.lastRuntimeCpuUs = runtimeCpuUs;
    this.lastCpuBusyS = cpuBusyS;

    const change = this.policy.observe({ nowMs, loadCpus, sharedCpuBusy, workers: pids.length });
    if (change?.to === 'colocated') this.colocate(pids);
    else if (change?.to === 'spread') this.spread();
    else if (this.cpu !== undefined) this.holdNewWorkers(pids);
    if (change !== undefined) this.log.debug(`${change.to === 'colocated' ? `co-located on CPU ${this.cpu}` : 'spread over the host CPUs'}: ${change.reason}`);
  }

  private colocate(pids: number[]): void {
    const cpu = native.currentCpu();
    native.setAffinity(0, [cpu]);
    this.cpu = cpu;
    this.lastCpuBusyS = cpuBusySeconds(cpu);
    heldMainThread = { cpu, hostCpus: this.hostCpus };
    this.holdNewWorkers(pids);
  }

  private holdNewWorkers(pids: number[]): void {
    const live = new Set(pids);
    for (const pid of this.held) if (!live.has(pid)) this.held.delete(pid);
    for (const pid of pids) {
      if (this.held.has(pid)) continue;
      setProcessAffinity(pid, [this.cpu!]);
      this.held.add(pid);
    }
  }

  /** Every thread of the runtime (those started while it was held inherited its CPU) and of the held workers gets the host's CPUs back. */
  private spread(): void {
    heldMainThread = undefined;
    this.cpu = undefined;
    this.lastCpuBusyS = undefined;
    setProcessAffinity(process.pid, this.hostCpus);
    for (const pid of this.held) setProcessAffinity(pid, this.hostCpus);
    this.held.clear();
  }
}

/** Sets the affinity of every thread of `pid`; threads and processes gone meanwhile are skipped. */
function setProcessAffinity(pid: number, cpus: number[]): void {
  for (const tid of processThreads(pid)) {
    try {
      native.setAffinity(tid, cpus);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw new Error(`setting the CPUs of thread ${tid} of process ${pid} to ${cpus.join(',')}: ${(error as Error).message}`, { cause: error });
    }
  }
}
