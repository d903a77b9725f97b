import type { RuntimeEvent, SpawnReason, WorkerOrigin } from '../../shared/events.js';
import { PHASES, type Phase, type PhaseSource } from '../../shared/phases.js';
import { EventType, Marker, type KernelEvent } from '../probes/events.js';

export interface PhaseTiming {
  phase: Phase;
  /** Nanoseconds from the spawn decision to the phase's start. */
  startNs: number;
  durationNs: number;
  source: PhaseSource;
}

/** One cold start: from the runtime's decision to start a worker to its first response. */
export interface ColdStartRecord {
  function: string;
  workerId: number;
  pid: number;
  origin: WorkerOrigin | 'unknown';
  reason: SpawnReason;
  binary: string;
  /** The invocation that waited for this worker (null for pre-warmed workers). */
  requestId: number | null;
  /** CLOCK_MONOTONIC nanoseconds of the spawn decision. */
  spawnTs: number;
  /** Observed phases in PHASES order; an unobserved one is folded into the next. */
  phases: PhaseTiming[];
  totalNs: number;
  /** For every phase: where its end was measured, or null when it was not observed. */
  measured: Record<Phase, PhaseSource | null>;
  outcome: 'served' | 'ready' | 'failed' | 'timed_out';
  error?: string;
  /** Whether the agent CPU-sampled this start from its exec on (absent when it does not profile). */
  profiled?: boolean;
}

/** A worker that died abnormally, attributed to its function and the invocations it was running. */
export interface ExitRecord {
  function: string;
  workerId: number;
  pid: number;
  ts: number;
  code: number | null;
  signal: string | null;
  oomKilled: boolean;
  inflight: number[];
  peakMemoryBytes: number | null;
  reason: string;
}

export interface TrackerOptions {
  /** Kernel events of a pid may trail the runtime's; a finished record waits this long for them. */
  settleNs: number;
  /** A cold start not finished after this long is recorded with what was seen. */
  timeoutNs: number;
  onRecord(record: ColdStartRecord): void;
  onExit(record: ExitRecord): void;
}

interface ProcessTrack {
  events: KernelEvent[];
  exitedTs?: number;
  oom: boolean;
}

interface WorkerTrack {
  workerId: number;
  function: string;
  reason: SpawnReason;
  spawnTs: number;
  pid?: number;
  origin?: WorkerOrigin;
  binary?: string;
  readyTs?: number;
  requestId?: number;
  firstResponseTs?: number;
  failed?: string;
  dueAt?: number;
  done: boolean;
}

/** Kernel events kept per process: enough for a start-up; per-invocation markers are not kept. */
const MAX_EVENTS_PER_PROCESS = 64;
/** Processes and workers are forgotten this long after they exit or finish. */
const FORGET_AFTER_NS = 60e9;

/**
 * Joins the kernel's events (by pid) with the runtime's (spawn requested, spawned, ready,
 * invocations, exits) into one record per cold start.
 */
export class PhaseTracker {
  private readonly processes = new Map<number, ProcessTrack>();
  private readonly workers = new Map<number, WorkerTrack>();
  /** Workers whose record is not out yet: the only ones tick() has to look at. */
  private readonly unfinished = new Set<WorkerTrack>();
  /** Finished workers and exited pids (with the exit's timestamp), oldest first, to forget them in order. */
  private readonly finished = new Set<WorkerTrack>();
  private readonly exited = new Map<number, number>();
  private readonly byPid = new Map<number, WorkerTrack>();
  private readonly inflight = new Map<number, Set<number>>();

  constructor(private readonly options: TrackerOptions) {}

  /** Forgets every process and worker: while the probes were detached their events went unseen, so no record of theirs would be whole. */
  reset(): void {
    for (const map of [this.processes, this.workers, this.exited, this.byPid, this.inflight]) map.clear();
    this.unfinished.clear();
    this.finished.clear();
  }

  kernel(event: KernelEvent): void {
    if (event.type === EventType.MARK && (event.cookie === Marker.INVOKE_START || event.cookie === Marker.INVOKE_END)) return;
    let track = this.processes.get(event.pid);
    // A pid the kernel handed out again: the old process's events are not this one's.
    if (track?.exitedTs !== undefined && event.type === EventType.FORK) {
      this.exited.delete(event.pid);
      track = undefined;
    }
    if (track === undefined) {
      track = { events: [], oom: false };
      this.processes.set(event.pid, track);
    }
    if (event.type === EventType.EXEC) {
      // A new program: what the process did before (as a seed) is not part of this start.
      track.events = track.events.filter((earlier) => earlier.type === EventType.FORK);
    }
    if (track.events.length < MAX_EVENTS_PER_PROCESS) track.events.push(event);
    if (event.type === EventType.OOM) track.oom = true;
    if (event.type === EventType.EXIT) {
      track.exitedTs = event.ts;
      this.exited.delete(event.pid);
      this.exited.set(event.pid, event.ts);
      if (event.arg2 !== 0) track.oom = true;
    }
    const worker = this.byPid.get(event.pid);
    if (worker !== undefined) this.check(worker, event.ts);
  }

  runtime(event: RuntimeEvent): void {
    switch (event.type) {
      case 'spawn_requested': {
        if (event.reason === 'stem') return;
        const worker: WorkerTrack = { workerId: event.workerId, function: event.function, reason: event.reason, spawnTs: event.ts, done: false };
        this.workers.set(event.workerId, worker);
        this.unfinished.add(worker);
        return;
      }
      case 'worker_spawned': {
        const worker = this.workers.get(event.workerId);
        if (worker === undefined) return;
        worker.pid = event.pid;
        worker.origin = event.origin;
        worker.binary = event.binary;
        this.byPid.set(event.pid, worker);
        return;
      }
      case 'worker_ready': {
        const worker = this.workers.get(event.workerId);
        if (worker === undefined) return;
        worker.readyTs = event.ts;
        this.check(worker, event.ts);
        return;
      }
      case 'invoke_start': {
        let ids = this.inflight.get(event.pid);
        if (ids === undefined) this.inflight.set(event.pid, (ids = new Set()));
        ids.add(event.id);
        const worker = this.workers.get(event.workerId);
        if (worker !== undefined && event.cold && worker.requestId === undefined) worker.requestId = event.id;
        return;
      }
      case 'invoke_end': {
        this.inflight.get(event.pid)?.delete(event.id);
        const worker = this.workers.get(event.workerId);
        if (worker !== undefined && worker.requestId === event.id) {
          worker.firstResponseTs = event.ts;
          this.check(worker, event.ts);
        }
        return;
      }
      case 'worker_exit': {
        const worker = this.workers.get(event.workerId);
        const track = this.processes.get(event.pid);
        const abnormal = event.code !== 0 || event.inflight.length > 0;
        if (abnormal) {
          this.options.onExit({
            function: event.function,
            workerId: event.workerId,
            pid: event.pid,
            ts: event.ts,
            code: event.code,
            signal: event.signal,
            oomKilled: event.oomKilled || (track?.oom ?? false),
            inflight: event.inflight.length > 0 ? event.inflight : [...(this.inflight.get(event.pid) ?? [])],
            peakMemoryBytes: event.peakMemoryBytes ?? null,
            reason: event.reason,
          });
        }
        this.inflight.delete(event.pid);
        if (worker !== undefined && !worker.done) {
          if (worker.readyTs === undefined) worker.failed = event.reason;
          this.check(worker, event.ts);
        }
        return;
      }
      default:
        return;
    }
  }

  /** Finishes what is due and forgets what is old; call it every few hundred ms. */
  tick(now: number): void {
    for (const worker of this.unfinished) this.check(worker, now);
    for (const worker of this.finished) {
      if (now - worker.spawnTs <= FORGET_AFTER_NS) break;
      this.finished.delete(worker);
      this.forget(worker);
    }
    for (const [pid, exitTs] of this.exited) {
      if (now - exitTs <= FORGET_AFTER_NS) break;
      this.exited.delete(pid);
      this.processes.delete(pid);
    }
  }

  get tracking(): { processes: number; workers: number } {
    return { processes: this.processes.size, workers: this.workers.size };
  }

  private check(worker: WorkerTrack, now: number): void {
    if (worker.done) return;
    const finished =
      worker.failed !== undefined ||
      (worker.readyTs !== undefined && (worker.reason !== 'cold' || worker.firstResponseTs !== undefined || worker.requestId === undefined));
    if (finished) worker.dueAt ??= now + this.options.settleNs;
    const timedOut = now - worker.spawnTs > this.options.timeoutNs;
    if ((worker.dueAt !== undefined && now >= worker.dueAt) || timedOut) {
      // A cold worker whose request has not been answered yet is held back until it is (or times out).
      if (!timedOut && worker.failed === undefined && worker.reason === 'cold' && worker.requestId !== undefined && worker.firstResponseTs === undefined) return;
      worker.done = true;
      this.unfinished.delete(worker);
      this.finished.add(worker);
      this.options.onRecord(this.build(worker, timedOut && !finished));
    }
  }

  private build(worker: WorkerTrack, timedOut: boolean): ColdStartRecord {
    const boundaries = this.boundaries(worker);
    const phases: PhaseTiming[] = [];
    const measured = Object.fromEntries(PHASES.map((phase) => [phase, null])) as Record<Phase, PhaseSource | null>;
    let previous = worker.spawnTs;
    for (const phase of PHASES) {
      const boundary = boundaries.get(phase);
      if (boundary === undefined || boundary.ts < previous) continue;
      phases.push({ phase, startNs: previous - worker.spawnTs, durationNs: boundary.ts - previous, source: boundary.source });
      measured[phase] = boundary.source;
      previous = boundary.ts;
    }
    const outcome = worker.failed !== undefined ? 'failed' : timedOut ? 'timed_out' : worker.firstResponseTs !== undefined ? 'served' : 'ready';
    return {
      function: worker.function,
      workerId: worker.workerId,
      pid: worker.pid ?? 0,
      origin: worker.origin ?? 'unknown',
      reason: worker.reason,
      binary: worker.binary ?? '',
      requestId: worker.requestId ?? null,
      spawnTs: worker.spawnTs,
      phases,
      totalNs: previous - worker.spawnTs,
      measured,
      outcome,
      ...(worker.failed === undefined ? {} : { error: worker.failed }),
    };
  }

  /**
   * Each phase's end as best observed. The state is mapped when the mapping call returns: the
   * SDK marker says exactly that, the syscall probe only when it was entered. A worker is
   * ready when it writes READY: the syscall probe sees that write enter the kernel, the Go
   * SDK's marker comes just before it and the Node SDK's just after it.
   * The runtime's own events are the fallback.
   */
  private boundaries(worker: WorkerTrack): Map<Phase, { ts: number; source: PhaseSource }> {
    const result = new Map<Phase, { ts: number; source: PhaseSource }>();
    const events = (worker.pid === undefined ? [] : (this.processes.get(worker.pid)?.events ?? [])).filter((event) => event.ts >= worker.spawnTs);
    const first = (match: (event: KernelEvent) => boolean): KernelEvent | undefined => events.find(match);
    const marker = (id: Marker): KernelEvent | undefined => first((event) => event.type === EventType.MARK && event.cookie === id);
    const set = (phase: Phase, event: KernelEvent | undefined, source: PhaseSource): void => {
      if (event !== undefined && !result.has(phase)) result.set(phase, { ts: event.ts, source });
    };
    set('fork', first((event) => event.type === EventType.FORK), 'kernel');
    set('exec', first((event) => event.type === EventType.EXEC), 'kernel');
    set('runtime_init', marker(Marker.GO_RUNTIME_MAIN) ?? marker(Marker.NODE_ENV), 'kernel');
    set('user_init', marker(Marker.GO_MAIN_MAIN) ?? marker(Marker.NODE_MAIN), 'kernel');
    set('state_mapped', marker(Marker.STATE_MAPPED), 'sdk');
    set('state_mapped', first((event) => event.type === EventType.STATE_MMAP), 'kernel');
    set('ready', first((event) => event.type === EventType.IPC_WRITE), 'kernel');
    set('ready', marker(Marker.READY), 'sdk');
    if (!result.has('ready') && worker.readyTs !== undefined) result.set('ready', { ts: worker.readyTs, source: 'runtime' });
    if (worker.firstResponseTs !== undefined) result.set('first_response', { ts: worker.firstResponseTs, source: 'runtime' });
    return result;
  }

  private forget(worker: WorkerTrack): void {
    this.workers.delete(worker.workerId);
    if (worker.pid !== undefined && this.byPid.get(worker.pid) === worker) this.byPid.delete(worker.pid);
  }
}
