import type { FunctionSummary } from '../../shared/api.js';
import type { RuntimeEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/log.js';
import type { BpfMap } from '../bpf/index.js';
import type { KernelEvent } from '../probes/events.js';
import { ColdClocks, type ColdClockCounters } from './cold-clocks.js';
import { gcShare, type GcShare } from './gc-share.js';
import type { Frame, Profile, ProfilePhase } from './model.js';
import { Sampler, type RawSample, type SamplerCounters } from './sampler.js';
import { ProfileStore, type ProfileSummary, type ProfileWindow } from './store.js';
import { Symbolizer } from './symbolize/index.js';
import { WorkerDirectory } from './workers.js';

export interface ProfilerOptions {
  coldHz: number;
  steadyHz: number;
  /** Follow one in this many of the processes the runtime starts through their cold start (default 1: all). */
  coldEvery?: number;
  /** Open at most this many cold-start clocks a second (default DEFAULT_COLD_MAX_PER_SECOND). */
  coldMaxPerSecond?: number;
  objectPath?: string;
}

export const DEFAULT_PROFILER_OPTIONS: ProfilerOptions = { coldHz: 1000, steadyHz: 19 };

/** Cold-start clocks opened a second at most: 36,000 sampled starts an hour, for about 0.15% of a core. */
export const DEFAULT_COLD_MAX_PER_SECOND = 10;

/** How long samples of a process wait for the runtime to name it as a worker (seeds and stem cells never are). */
const AWAIT_WORKER_MS = 3_000;
const MAX_AWAITING_WORKER = 10_000;

/** A stack whose user part the kernel could not keep is still counted, under this frame. */
const LOST_STACK: Frame = { name: '[stack lost]', module: '[unknown]', kind: 'unknown' };

export interface ProfilerCounters extends SamplerCounters {
  /** Samples of tracked processes that are no worker the runtime announced (seeds, stem cells). */
  unattributed: number;
  coldClocks: ColdClockCounters;
}

/**
 * Cold-start and steady-state CPU profiles of every function: the kernel's sample counts,
 * attributed to functions through the runtime's events, symbolised, and kept in a store.
 */
export class Profiler {
  readonly store: ProfileStore;
  private readonly sampler: Sampler;
  private readonly coldClocks: ColdClocks;
  private readonly symbolizer: Symbolizer;
  private readonly workers = new WorkerDirectory((pid) => this.symbolizer.forget(pid));
  private unattributed = 0;
  /** Samples of processes the runtime has not named yet, with when they were read. */
  private awaitingWorker: { sample: RawSample; unixMs: number }[] = [];

  /** The options in force, with the defaults of coldEvery and coldMaxPerSecond filled in. */
  readonly options: ProfilerOptions & { coldEvery: number; coldMaxPerSecond: number };

  /** `openPath`: how a path in the workers' mount namespace opens from here (see ProcessRoot). */
  constructor(
    tracked: BpfMap,
    options: ProfilerOptions,
    private readonly log: Logger,
    openPath?: (file: string) => string,
  ) {
    this.options = { ...options, coldEvery: options.coldEvery ?? 1, coldMaxPerSecond: options.coldMaxPerSecond ?? DEFAULT_COLD_MAX_PER_SECOND };
    this.symbolizer = new Symbolizer(openPath === undefined ? {} : { openPath });
    this.sampler = Sampler.open(tracked, { coldHz: options.coldHz, steadyHz: options.steadyHz, ...(options.objectPath === undefined ? {} : { objectPath: options.objectPath }) });
    this.coldClocks = new ColdClocks(this.sampler, log, this.options.coldEvery, this.options.coldMaxPerSecond);
    this.store = new ProfileStore({ cold: options.coldHz, steady: options.steadyHz });
  }

  /** The runtime, and those of its children that may still become workers (seeds, stem cells). */
  adoptRuntime(pid: number, children: number[]): void {
    this.coldClocks.setRoot(pid);
    this.coldClocks.adopt(children);
    this.coldClocks.flush();
  }

  /** Workers that were running before the agent came. */
  adoptWorkers(workers: { pid: number; function: string }[], functions: FunctionSummary[]): void {
    const binaries = new Map(functions.map((fn) => [fn.name, fn.binary]));
    for (const worker of workers) {
      this.workers.add({ pid: worker.pid, function: worker.function, binary: binaries.get(worker.function) ?? '' });
      this.symbolizer.observe(worker.pid);
    }
  }

  kernel(event: KernelEvent): void {
    this.coldClocks.kernel(event);
  }

  /** Whether the cold start of this process was sampled from its exec on (asked once per start). */
  sampledFromExec(pid: number): boolean {
    return this.coldClocks.sampledFromExec(pid);
  }

  /** Starts sampling the processes born since the last call through their cold start. */
  followNewProcesses(): void {
    this.coldClocks.flush();
  }

  runtime(event: RuntimeEvent): void {
    this.coldClocks.runtime(event);
    const spawned = this.workers.runtime(event, Date.now());
    // Its mappings now, while it is surely alive: it may be gone by the next collection.
    if (spawned !== undefined) this.symbolizer.observe(spawned.pid, { binary: spawned.binary });
  }

  /** Reads the kernel's counts into the store. Cheap when nothing was sampled. */
  collect(): void {
    const now = Date.now();
    let raw;
    try {
      raw = this.sampler.collect();
    } catch (error) {
      this.log.error(`reading CPU samples: ${(error as Error).message}`);
      return;
    }
    this.symbolizer.newBatch();
    const waiting = this.awaitingWorker;
    this.awaitingWorker = [];
    for (const { sample, unixMs } of waiting) this.attribute(sample, unixMs, now);
    for (const sample of raw) this.attribute(sample, now, now);
    this.workers.sweep(now);
  }

  /**
   * Stores a sample under its worker's function. The runtime names a new worker in its next
   * batch of events (up to 100 ms later), so the samples of a start collected before that wait
   * for it for a while rather than being lost.
   */
  private attribute(sample: RawSample, unixMs: number, now: number): void {
    const worker = this.workers.get(sample.pid);
    if (worker === undefined) {
      if (now - unixMs < AWAIT_WORKER_MS && this.awaitingWorker.length < MAX_AWAITING_WORKER) this.awaitingWorker.push({ sample, unixMs });
      else this.unattributed += sample.count;
      return;
    }
    const stack = sample.userLost && sample.kernel.length === 0 ? [LOST_STACK] : this.symbolizer.resolve(sample.pid, sample.user, sample.kernel, { binary: worker.binary, leafReturn: sample.leafReturn });
    if (stack.length === 0) stack.push(LOST_STACK);
    this.store.add({ stack, count: sample.count, labels: { function: worker.function, phase: sample.cold ? 'cold' : 'steady', pid: sample.pid }, unixMs });
  }

  profile(fn: string, phase: ProfilePhase, window: ProfileWindow = {}): Profile {
    return this.store.profile(fn, phase, window);
  }

  summary(): ProfileSummary[] {
    return this.store.summary();
  }

  /** The GC's CPU share per function, from the steady-state samples of the last `seconds`. */
  gcShares(seconds: number): GcShare[] {
    const since = Date.now() - seconds * 1000;
    const functions = new Set(this.store.summary().map((entry) => entry.function));
    return [...functions].sort().map((fn) => gcShare(this.store.profile(fn, 'steady', { sinceUnixMs: since })));
  }

  counters(): ProfilerCounters {
    return { ...this.sampler.counters(), unattributed: this.unattributed, coldClocks: this.coldClocks.counters() };
  }

  /** Stops every clock (samples already counted stay to be collected) until resume(). */
  pause(): void {
    this.coldClocks.close();
    this.sampler.detachClocks();
  }

  /** Starts the clocks on every CPU again; processes get cold-start clocks from the next adoptRuntime() or birth on. */
  resume(): void {
    this.sampler.reattachClocks();
  }

  close(): void {
    this.coldClocks.close();
    this.sampler.close();
  }
}
