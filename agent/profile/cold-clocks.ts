// Which processes the cold-start sampling clock follows. A 1 kHz CPU clock on every CPU costs
// every process on the host a timer interrupt each millisecond (about 20 µs each on this VM:
// 2% of each CPU), although only workers between exec and ready are sampled. Instead each
// process the runtime starts (seed, stem cell, worker) gets a clock of its own as soon as the
// agent learns of its birth: it ticks only while that process runs, carries over its exec,
// and is closed once the worker is ready (after it answered the request that waited for it,
// if one did), or the process exits.
// Such a clock is stopped and restarted with each thread it follows at every context switch,
// and on a virtual machine whose timer writes trap that costs each switch several µs
// (`npm run bench -- profile`, cold.clock_switch); following one process in N bounds it.
// Opening and closing a clock costs the agent itself about 0.15 ms of CPU, so at most
// `maxPerSecond` are opened a second: under a storm of cold starts the profile has all the
// starts it needs long before the agent's cost would grow with the storm.
import type { RuntimeEvent } from '../../shared/events.js';
import type { Logger } from '../../shared/log.js';
import { BpfError, type BpfLink } from '../bpf/index.js';
import { EventType, type KernelEvent } from '../probes/events.js';
import type { Sampler } from './sampler.js';

/** How long a ready worker's clock waits for the answer to the request that waited for it. */
const ANSWER_WAIT_MS = 1_000;

/** Cold starts are recorded within a minute of their exec; far more than that many are never pending (nor spawns in flight). */
const MAX_REMEMBERED = 4096;

/** Adds value to a set that forgets its oldest entries beyond MAX_REMEMBERED. */
function remember(set: Set<number>, value: number): void {
  set.add(value);
  if (set.size > MAX_REMEMBERED) set.delete(set.values().next().value!);
}

export interface ColdClockCounters {
  /** Processes followed now. */
  followed: number;
  /** Processes left unfollowed because the clocks opened in the last second reached maxPerSecond. */
  overBudget: number;
  /** The clocks run on every CPU instead (processes could not be followed one by one). */
  everyCpu: boolean;
}

export class ColdClocks {
  private readonly followed = new Map<number, BpfLink>();
  /** Born since the last flush(): opened then, unless they are gone or ready by then. */
  private readonly pending = new Set<number>();
  private readonly roots = new Set<number>();
  private everyCpu = false;
  /** Processes considered for a clock so far: the first and then every `every`-th is followed. */
  private considered = 0;
  /** Workers spawned for a waiting request (by worker id), until they are ready. */
  private readonly coldSpawns = new Set<number>();
  /** Ready workers whose clock closes once they answer their first request, with a deadline. */
  private readonly closeAfterAnswer = new Map<number, number>();
  /** Processes that exec'd with their clock open, until sampledFromExec() is asked about them. */
  private readonly sampledExecs = new Set<number>();
  /** Clocks that may still be opened now: refilled at maxPerSecond, up to a second's worth. */
  private tokens: number;
  private refilledAtMs: number | undefined;
  private overBudget = 0;

  constructor(
    private readonly sampler: Pick<Sampler, 'followProcess' | 'sampleColdOnEveryCpu'>,
    private readonly log: Logger,
    private readonly every = 1,
    private readonly maxPerSecond = Number.POSITIVE_INFINITY,
  ) {
    if (!Number.isInteger(every) || every < 1) throw new RangeError(`cold-start clocks: every must be a positive integer (got ${every})`);
    if (!(maxPerSecond > 0)) throw new RangeError(`cold-start clocks: maxPerSecond must be positive (got ${maxPerSecond})`);
    this.tokens = maxPerSecond;
  }

  /** The runtime: its children are the processes that become workers. */
  setRoot(pid: number): void {
    this.roots.clear();
    this.roots.add(pid);
  }

  /** Children of the runtime from before the agent came that may still become workers (seeds, stem cells). */
  adopt(pids: number[]): void {
    for (const pid of pids) this.pending.add(pid);
  }

  kernel(event: KernelEvent): void {
    if (event.type === EventType.FORK) {
      this.sampledExecs.delete(event.pid); // a reused pid
      if (this.roots.has(event.ppid)) this.pending.add(event.pid);
    } else if (event.type === EventType.EXEC && this.followed.has(event.pid)) {
      remember(this.sampledExecs, event.pid);
    } else if (event.type === EventType.EXIT) {
      this.stop(event.pid);
    }
  }

  /** Whether this process's start was sampled from its exec on (asked once, when its cold start is recorded). */
  sampledFromExec(pid: number): boolean {
    return this.sampledExecs.delete(pid) || this.everyCpu;
  }

  runtime(event: RuntimeEvent, nowMs = Date.now()): void {
    switch (event.type) {
      case 'spawn_requested':
        if (event.reason !== 'cold') break;
        remember(this.coldSpawns, event.workerId);
        break;
      case 'worker_ready':
        // A request is waiting for this worker: it is about to run it, and closing the clock
        // now would interrupt it (the kernel removes the clock from each running thread by an
        // interrupt to its CPU, and waits). Closed once it has answered, when it is idle.
        if (this.coldSpawns.delete(event.workerId) && this.followed.has(event.pid)) this.closeAfterAnswer.set(event.pid, nowMs + ANSWER_WAIT_MS);
        else this.stop(event.pid);
        break;
      case 'invoke_end':
        if (this.closeAfterAnswer.has(event.pid)) this.stop(event.pid);
        break;
      case 'worker_exit':
        this.coldSpawns.delete(event.workerId);
        this.stop(event.pid);
        break;
      default:
        break;
    }
  }

  /** Opens the clocks of the processes born since the last call, and closes those kept too long for an answer. */
  flush(nowMs = Date.now()): void {
    for (const [pid, deadline] of this.closeAfterAnswer) if (nowMs >= deadline) this.stop(pid);
    this.refill(nowMs);
    for (const pid of this.pending) {
      this.pending.delete(pid);
      if (this.everyCpu || this.followed.has(pid)) continue;
      if (this.considered++ % this.every !== 0) continue;
      if (this.tokens < 1) {
        this.overBudget++;
        continue;
      }
      this.tokens--;
      this.follow(pid);
    }
  }

  counters(): ColdClockCounters {
    return { followed: this.followed.size, overBudget: this.overBudget, everyCpu: this.everyCpu };
  }

  close(): void {
    this.pending.clear();
    for (const pid of [...this.followed.keys()]) this.stop(pid);
  }

  private refill(nowMs: number): void {
    if (this.refilledAtMs !== undefined) this.tokens = Math.min(this.maxPerSecond, this.tokens + ((nowMs - this.refilledAtMs) / 1000) * this.maxPerSecond);
    this.refilledAtMs = nowMs;
  }

  private follow(pid: number): void {
    try {
      this.followed.set(pid, this.sampler.followProcess(pid));
    } catch (error) {
      if (!(error instanceof BpfError)) throw error;
      if (error.code === 'ESRCH') return; // gone before its clock: nothing to sample
      if (error.code === 'EACCES' || error.code === 'EPERM') {
        this.useEveryCpu(`${error.message}: following each process needs the runtime's user or CAP_SYS_PTRACE`);
        return;
      }
      this.log.warn(`no cold-start samples of process ${pid}: ${error.message}`);
    }
  }

  private useEveryCpu(reason: string): void {
    this.everyCpu = true;
    let refused: string | undefined;
    try {
      this.sampler.sampleColdOnEveryCpu();
    } catch (error) {
      refused = (error as Error).message;
    }
    this.close();
    this.log.warn(refused === undefined ? `cold-start sampling runs on every CPU (a timer interrupt each millisecond on each): ${reason}` : `cold-start sampling is off: ${reason}; and on every CPU: ${refused}`);
  }

  private stop(pid: number): void {
    this.pending.delete(pid);
    this.closeAfterAnswer.delete(pid);
    const link = this.followed.get(pid);
    if (link === undefined) return;
    this.followed.delete(pid);
    try {
      link.destroy();
    } catch (error) {
      this.log.warn(`closing the cold-start clock of process ${pid}: ${(error as Error).message}`);
    }
  }
}
