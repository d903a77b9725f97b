import fs from 'node:fs';
import * as native from '../../native/index.js';
import { HearthError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Cgroups, WorkerCgroup } from './cgroup.js';
import { Colocation, type ColocationMode } from './colocation.js';
import { DirectProcess, type WorkerProcess } from './process.js';
import { NodePerfMaps } from './perf-maps.js';
import { SeedPool } from './seeds.js';
import { Worker, type LaunchSpec, type WorkerContext, type WorkerHooks } from './worker.js';

export interface SupervisorOptions {
  maxPayload: number;
  startTimeoutMs: number;
  timeoutGraceMs: number;
  shutdownGraceMs: number;
  /** Seeds kept ready (0: every worker is spawned directly). */
  seeds: number;
  /** Start Node workers with V8's perf maps, so a CPU profiler can name their JavaScript frames. */
  nodePerfMaps: boolean;
  /** Hold the runtime's thread and its workers on one CPU while their load fits it (colocation.ts). */
  colocation: ColocationMode;
}

/** Where a worker's inherited fds go (PROTOCOL.md, "What a worker inherits"). */
const OUTPUT_FDS = [1, 2];
const IPC_FD = 3;
const STATE_FD = 4;
/** Node workers and stem cells run the runtime's own Node. */
const NODE_BINARY = process.execPath;

/** Starts workers with their limits and keeps the set of every live worker process. */
export class Supervisor {
  readonly live = new Set<Worker>();
  private nextId = 1;
  private readonly context: WorkerContext;
  private readonly seeds: SeedPool;
  private readonly perfMaps: NodePerfMaps | undefined;
  readonly colocation: Colocation;

  constructor(
    readonly cgroups: Cgroups,
    log: Logger,
    options: SupervisorOptions,
  ) {
    this.perfMaps = options.nodePerfMaps ? new NodePerfMaps() : undefined;
    const reaped = (worker: Worker): void => {
      this.live.delete(worker);
      this.perfMaps?.exited(worker.pid);
    };
    this.context = { log, devNull: fs.openSync('/dev/null', 'r+'), reaped, ...options };
    this.colocation = new Colocation(options.colocation, () => Array.from(this.live, (worker) => worker.pid), log.child('colocation'));
    this.seeds = new SeedPool(options.seeds, cgroups, this.context.devNull, log.child('seeds'), this.colocation.spawnCpus);
    this.seeds.fill();
    this.colocation.start();
  }

  allocateId(): number {
    return this.nextId++;
  }

  get seedsReady(): number {
    return this.seeds.available;
  }

  /** Starts a worker: from a ready seed when there is one, else with the native spawn helper. */
  start(id: number, launch: LaunchSpec, hooks: WorkerHooks): Worker {
    const [ipcOurs, ipcTheirs] = native.socketpair();
    const [outOurs, outTheirs] = native.socketpair();
    const fds = [outTheirs, outTheirs, ipcTheirs];
    const targets = [...OUTPUT_FDS, IPC_FD];
    if (launch.state !== undefined) {
      fds.push(launch.state.fd);
      targets.push(STATE_FD);
    }
    const nodeEnv = this.perfMaps !== undefined && launch.file === NODE_BINARY ? this.perfMaps.withFlags(launch.env) : launch.env;
    const env = Object.entries(nodeEnv).map(([key, value]) => `${key}=${value}`);
    const sandbox = this.sandboxFor(launch);
    let cgroup: WorkerCgroup | undefined;
    let process: WorkerProcess;
    try {
      // A seed has its filter from its start: a function without one is spawned directly.
      const seed = sandbox.seccomp ? this.seeds.take() : undefined;
      if (seed !== undefined) {
        cgroup = seed.cgroup;
        cgroup?.setMemoryLimit(launch.memoryMb);
        cgroup?.setPidsLimit(launch.pids);
        seed.activate({ file: launch.file, argv: launch.argv, env, ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }), fds, targets, sandbox });
        process = seed;
      } else {
        ({ process, cgroup } = this.spawnDirectly(id, launch, env, fds, targets, sandbox));
      }
    } catch (error) {
      fs.closeSync(ipcOurs);
      fs.closeSync(outOurs);
      throw new HearthError('HEARTH_ERR_SPAWN', `starting a worker of ${launch.fn}: ${(error as Error).message}`, { cause: error });
    } finally {
      fs.closeSync(ipcTheirs);
      fs.closeSync(outTheirs);
    }
    const worker = new Worker(id, launch, process, { ipc: ipcOurs, output: outOurs }, cgroup, this.context, hooks);
    this.live.add(worker);
    return worker;
  }

  /** Specialises a stem cell to `launch`'s function: its ids and limits (it has had the filter since it started). */
  specialise(stemCell: Worker, launch: LaunchSpec, entry: string): void {
    const { seccomp, ...ids } = this.sandboxFor(launch);
    if (!seccomp) throw new Error(`function ${launch.fn} runs without the filter: a stem cell cannot become one of its workers`);
    stemCell.specialise(launch, entry, ids);
  }

  /**
   * The sandbox a worker enters. Without a pids controller, a worker with a uid of its own is
   * bounded through that uid instead: RLIMIT_NPROC counts every task of the function's workers.
   */
  private sandboxFor(launch: LaunchSpec): native.SandboxOptions {
    if (this.cgroups.pidsEnforced || launch.sandbox.uid === undefined) return launch.sandbox;
    return { ...launch.sandbox, nproc: launch.uidPids };
  }

  /** Asks every worker to stop, SIGKILLs the ones still there after the grace period, and waits; then retires the seeds. */
  async stopAll(reason: string): Promise<void> {
    this.colocation.stop();
    const pending = [...this.live];
    for (const worker of pending) worker.shutdown(reason);
    const deadline = Date.now() + this.context.shutdownGraceMs + 2000;
    while (this.live.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const worker of this.live) worker.kill(`still running at shutdown`, 'HEARTH_ERR_SHUTTING_DOWN');
    while (this.live.size > 0 && Date.now() < deadline + 2000) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.seeds.close();
  }

  close(): void {
    this.perfMaps?.close();
    fs.closeSync(this.context.devNull);
  }

  /** The fallback when no seed is ready: the child joins its cgroup before exec. */
  private spawnDirectly(
    id: number,
    launch: LaunchSpec,
    env: string[],
    passed: number[],
    targets: number[],
    sandbox: native.SandboxOptions,
  ): { process: WorkerProcess; cgroup: WorkerCgroup | undefined } {
    const cgroup = this.cgroups.create(`w${id}`, launch.memoryMb, launch.pids);
    let procs: number[] = [];
    try {
      procs = cgroup?.openProcs() ?? [];
      const fds = [this.context.devNull];
      passed.forEach((fd, index) => (fds[targets[index]!] = fd));
      const { pid, pidfd } = native.spawn({
        file: launch.file,
        argv: launch.argv,
        env,
        fds: Array.from(fds, (fd) => fd ?? -1),
        ...(launch.cwd === undefined ? {} : { cwd: launch.cwd }),
        cgroupProcsFds: procs,
        sandbox,
        ...(this.colocation.spawnCpus === undefined ? {} : { cpus: this.colocation.spawnCpus }),
      });
      return { process: new DirectProcess(pid, pidfd), cgroup };
    } catch (error) {
      cgroup?.remove();
      throw error;
    } finally {
      for (const fd of procs) fs.closeSync(fd);
    }
  }
}
