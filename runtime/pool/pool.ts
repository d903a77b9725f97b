import type { RuntimeEventInput, SpawnReason } from '../../shared/events.js';
import { nowMs } from '../clock.js';
import { HearthError } from '../../shared/errors.js';
import type { EventLog } from '../events.js';
import type { Logger } from '../../shared/log.js';
import type { PoolSpec } from '../manifest/spec.js';
import type { Outcome, RuntimeMetrics } from '../metrics.js';
import type { StateStore } from '../state/store.js';
import { settle, type Invocation } from '../supervisor/invocation.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { privateMemoryBytes } from '../supervisor/proc-usage.js';
import type { ExitInfo, LaunchSpec, Worker, WorkerHooks } from '../supervisor/worker.js';
import { WaitQueue } from './queue.js';
import { SideWorker } from './side-worker.js';
import type { StemCells } from './stemcells.js';
import { launchFor, stemCellFlavour, type FunctionVersion } from './version.js';

export interface PoolDeps {
  supervisor: Supervisor;
  store: StateStore;
  events: EventLog;
  metrics: RuntimeMetrics;
  stemCells: StemCells;
  log: Logger;
}

export interface PoolSnapshot {
  fn: string;
  version: number;
  idle: number;
  busy: number;
  starting: number;
  draining: number;
  queued: number;
  backoffMs: number;
  lastStartError?: string;
}

const MAX_BACKOFF_MS = 30_000;
/** Consecutive start failures after which requests are refused (503) instead of queued. */
const REFUSE_AFTER_START_FAILURES = 2;

/** Candidate workers of a version being deployed, waiting to prove they start. */
interface Candidate {
  resolve(worker: Worker): void;
  reject(error: HearthError): void;
}

/**
 * The warm pool of one function: dispatch to workers with free slots (most recently used
 * first, so extra workers go idle and retire), a bounded queue with deadlines when none is
 * free, cold starts up to `max`, `min` kept warm, `spare` idle workers kept beyond those
 * running, idle workers retired after `keepAliveMs`,
 * recycling, restart back-off, and atomic version swaps.
 */
export class FunctionPool {
  current: FunctionVersion;
  settings: PoolSpec;
  /** Workers of this function the kernel's OOM killer ended, over every version. */
  oomKills = 0;
  private readonly workers = new Set<Worker>();
  private available: Worker[] = [];
  private readonly queue = new WaitQueue<Invocation>();
  private starting = 0;
  private startFailures = 0;
  private backoffUntil = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private lastStartError: HearthError | undefined;
  private readonly candidates = new Map<Worker, Candidate>();
  private removed = false;
  private readonly hooks: WorkerHooks;
  private lastMemoryCheck = 0;
  private side: SideWorker | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Infinity;

  constructor(
    version: FunctionVersion,
    private readonly deps: PoolDeps,
  ) {
    this.current = version;
    this.settings = { ...version.spec.pool };
    this.hooks = {
      ready: (worker) => this.onReady(worker),
      slotFree: (worker) => this.onSlotFree(worker),
      exited: (worker, info) => this.onExit(worker, info),
      invocationEnded: (worker, invocation, status, code) => this.onInvocationEnded(worker, invocation, status, code),
    };
    this.useStemCells(version, +1);
  }

  get name(): string {
    return this.current.spec.name;
  }

  /** Sends an invocation to a worker, queues it, or refuses it; `invocation.done` is always called once. */
  invoke(invocation: Invocation): void {
    if (this.removed) return this.refuse(invocation, new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `function ${this.name} was removed`));
    if (this.side?.claim(invocation.arrivedAt) === true) return this.dispatch(this.side.worker, invocation);
    const worker = this.takeAvailable();
    if (worker !== undefined) {
      this.dispatch(worker, invocation);
      // A spare was taken, perhaps: its replacement starts now, not when the next request finds none.
      if (this.settings.spare > 0) this.scale();
      return;
    }
    if (this.queue.length >= this.settings.maxQueued) {
      return this.refuse(
        invocation,
        new HearthError('HEARTH_ERR_QUEUE_FULL', `function ${this.name}: ${this.queue.length} requests are already waiting (pool.maxQueued)`, {
          details: { function: this.name, retryAfterSeconds: 1 },
        }),
      );
    }
    const backoff = this.backoffUntil - nowMs();
    if (backoff > 0 && this.failingToStart()) return this.refuse(invocation, this.unavailable(backoff));
    this.queue.push(invocation);
    this.scale();
  }

  /**
   * Starts `count` workers of a new version and resolves once all are ready; the current
   * version keeps serving meanwhile. If one fails, the others are retired and the version
   * is refused.
   */
  async prepare(version: FunctionVersion, count = 1): Promise<void> {
    const started = Array.from({ length: count }, () => this.candidate(version));
    const outcomes = await Promise.allSettled(started);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed === undefined) return;
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') outcome.value.retire(`another worker of version ${version.version} failed to start`);
    throw failed.reason;
  }

  /** How many workers of the current version are running or starting: what a roll to a new version replaces. */
  get liveWorkers(): number {
    return this.liveCount();
  }

  private candidate(version: FunctionVersion): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const worker = this.spawn('validate', version);
      if (worker === undefined) {
        reject(this.lastStartError ?? new HearthError('HEARTH_ERR_WORKER_START', `function ${version.spec.name}: could not start a worker`));
        return;
      }
      this.candidates.set(worker, { resolve, reject });
    });
  }

  /**
   * Starts a worker of the current version beside the pool, launched as `instrument` makes it
   * (a profiler's flags), and offers it `share` of the invocations once it is ready. One at a
   * time; its owner retires it.
   */
  startBeside(instrument: (launch: LaunchSpec) => LaunchSpec, share: number): SideWorker {
    if (this.removed) throw new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `function ${this.name} is being removed`, { details: { function: this.name } });
    if (this.side !== undefined) throw new Error(`function ${this.name} already has a worker beside its pool`);
    const version = this.current;
    const id = this.deps.supervisor.allocateId();
    this.deps.events.publish({ type: 'spawn_requested', function: this.name, workerId: id, reason: 'profile' });
    const launch = instrument(launchFor(version, id));
    let side: SideWorker | undefined;
    const worker = this.deps.supervisor.start(id, launch, {
      ready: (started) => {
        this.announceReady(started);
        side?.started();
      },
      slotFree: () => side?.onSlotFree(),
      exited: (ended, info) => {
        if (this.side === side) this.side = undefined;
        this.recordExit(ended, info);
        side?.ended(info);
      },
      invocationEnded: (served, invocation, status, errorCode) => {
        side?.invocationEnded(invocation, status);
        this.onInvocationEnded(served, invocation, status, errorCode);
      },
    });
    this.adopt(worker, version, launch);
    side = new SideWorker(worker, share);
    this.side = side;
    return side;
  }

  /** Makes `version` current: new requests go to its workers; old workers finish what they have, then exit. */
  activate(version: FunctionVersion): void {
    const previous = this.current;
    this.current = version;
    this.settings = { ...version.spec.pool };
    this.useStemCells(version, +1);
    this.useStemCells(previous, -1);
    this.startFailures = 0;
    this.backoffUntil = 0;
    this.available = [];
    for (const worker of this.workers) {
      worker.listed = false;
      if (worker.version !== version.version) worker.retire(`version ${previous.version} replaced by ${version.version}`);
      else this.list(worker);
    }
    this.side?.retire(`version ${previous.version} replaced by ${version.version}`);
    this.starting = [...this.workers].filter((worker) => worker.version === version.version && (worker.status === 'starting' || worker.status === 'specialising')).length;
    this.drainQueue();
    this.scale();
  }

  /** Changes pool settings live. */
  configure(settings: PoolSpec): void {
    this.settings = { ...settings };
    this.tick(nowMs());
    this.scale();
  }

  /** Refuses new work, lets in-flight invocations finish, and resolves when every worker is gone. */
  async remove(reason: string): Promise<void> {
    this.removed = true;
    clearTimeout(this.backoffTimer);
    clearTimeout(this.expiryTimer);
    for (const invocation of this.queue.drain()) {
      this.refuse(invocation, new HearthError('HEARTH_ERR_FUNCTION_NOT_FOUND', `function ${this.name} was removed while the request waited`));
    }
    for (const worker of this.workers) worker.retire(reason);
    this.side?.retire(reason);
    this.useStemCells(this.current, -1);
    while (this.workers.size > 0 || this.side !== undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  /** Starts no more workers and answers everything queued with `error`; for the runtime's shutdown. */
  close(error: HearthError): void {
    this.removed = true;
    clearTimeout(this.backoffTimer);
    clearTimeout(this.expiryTimer);
    for (const invocation of this.queue.drain()) this.refuse(invocation, error);
  }

  /**
   * Answers what has passed its deadline: queued requests with 503, invocations with 504.
   * One sweep every few milliseconds replaces a timer per request, which under load cost
   * more (allocation, timer-list work) than the requests' own dispatch.
   */
  expire(now: number): void {
    for (const invocation of this.queue) if (invocation.deadline <= now) this.queueTimedOut(invocation);
    for (const worker of this.workers) if (worker.inflight.size > 0) worker.expire(now);
    this.side?.worker.expire(now);
  }

  /** Periodic housekeeping: keep-alive retirement, memory recycling, `min`. */
  tick(now: number): void {
    if (this.removed) return;
    const keepAlive = this.settings.keepAliveMs;
    let live = this.liveCount();
    let idle = this.idleCount();
    let nextExpiry = Infinity;
    for (const worker of this.workers) {
      if (live <= this.settings.min || idle <= this.settings.spare) break;
      if (worker.version !== this.current.version || worker.status !== 'ready' || worker.busy) continue;
      if (now - worker.lastUsedAt < keepAlive) {
        nextExpiry = Math.min(nextExpiry, worker.lastUsedAt + keepAlive);
        continue;
      }
      worker.shutdown(`idle for ${Math.round(now - worker.lastUsedAt)} ms (keepAliveMs ${keepAlive})`);
      live--;
      idle--;
    }
    if (live > this.settings.min) this.armExpiry(nextExpiry);
    if (now - this.lastMemoryCheck >= 2000) {
      this.lastMemoryCheck = now;
      this.recycleGrown();
    }
    this.scale();
  }

  /**
   * Retires idle workers when their keep-alive ends rather than at the next periodic tick: a
   * keep-alive of 0 then means no worker is kept at all, and a short one (a replay compressed
   * in time) is kept as long as asked. One timer per pool, for the earliest expiry.
   */
  private armExpiry(at: number): void {
    if (at >= this.expiryAt) return;
    clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    // A millisecond late, so that the worker is past its keep-alive when the timer fires.
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryAt = Infinity;
      this.tick(nowMs());
    }, Math.max(0, at - nowMs()) + 1);
    this.expiryTimer.unref();
  }

  snapshot(): PoolSnapshot {
    let idle = 0;
    let busy = 0;
    let starting = 0;
    let draining = 0;
    for (const worker of this.workers) {
      if (worker.status === 'starting' || worker.status === 'specialising') starting++;
      else if (worker.status === 'draining') draining++;
      else if (worker.status === 'ready') worker.busy ? busy++ : idle++;
    }
    const backoffMs = Math.max(0, Math.round(this.backoffUntil - nowMs()));
    return {
      fn: this.name,
      version: this.current.version,
      idle,
      busy,
      starting,
      draining,
      queued: this.queue.length,
      backoffMs,
      ...(this.lastStartError === undefined ? {} : { lastStartError: this.lastStartError.message }),
    };
  }

  /** Every worker of the function, the one beside the pool included. */
  listWorkers(): Worker[] {
    return this.side === undefined ? [...this.workers] : [...this.workers, this.side.worker];
  }

  // ---- dispatch ----

  private takeAvailable(): Worker | undefined {
    while (this.available.length > 0) {
      const worker = this.available[this.available.length - 1]!;
      const free = worker.version === this.current.version ? worker.freeSlots : 0;
      if (free <= 1) {
        this.available.pop();
        worker.listed = false;
      }
      if (free > 0) return worker;
    }
    return undefined;
  }

  private list(worker: Worker): void {
    if (!worker.listed && worker.freeSlots > 0 && worker.version === this.current.version) {
      worker.listed = true;
      this.available.push(worker);
    }
  }

  private dispatch(worker: Worker, invocation: Invocation): void {
    invocation.cold = worker.readyAt > invocation.arrivedAt;
    invocation.origin = worker.origin;
    invocation.startWaitMs = invocation.cold ? worker.readyAt - invocation.arrivedAt : 0;
    const waitedMs = nowMs() - invocation.arrivedAt;
    this.deps.events.publish({ type: 'invoke_start', function: this.name, id: invocation.id, workerId: worker.id, pid: worker.pid, cold: invocation.cold, waitedMs });
    worker.invoke(invocation);
  }

  private drainQueue(): void {
    while (this.queue.length > 0) {
      const worker = this.takeAvailable();
      if (worker === undefined) return;
      this.dispatch(worker, this.queue.shift()!);
    }
  }

  private queueTimedOut(invocation: Invocation): void {
    if (!this.queue.cancel(invocation)) return;
    const waited = Math.round(nowMs() - invocation.arrivedAt);
    const reason = this.lastStartError !== undefined && this.readyCount() === 0 ? `; last start failure: ${this.lastStartError.message}` : '';
    this.refuse(
      invocation,
      new HearthError('HEARTH_ERR_QUEUE_TIMEOUT', `function ${this.name}: no worker was free within the request's deadline (waited ${waited} ms)${reason}`, {
        details: { function: this.name, retryAfterSeconds: 1 },
      }),
    );
  }

  private refuse(invocation: Invocation, error: HearthError): void {
    this.deps.metrics.reject(this.name, error.code);
    this.deps.events.publish({ type: 'invoke_refused', function: this.name, id: invocation.id, status: error.status, errorCode: error.code, waitedMs: nowMs() - invocation.arrivedAt });
    settle(invocation, { ok: false, error });
  }

  private unavailable(backoffMs: number): HearthError {
    const seconds = Math.max(1, Math.ceil(backoffMs / 1000));
    return new HearthError('HEARTH_ERR_UNAVAILABLE', `function ${this.name} cannot start workers: ${this.lastStartError?.message ?? 'start failures'}; retrying in ${seconds} s`, {
      details: { function: this.name, retryAfterSeconds: seconds },
    });
  }

  // ---- scaling ----

  private liveCount(): number {
    let count = 0;
    for (const worker of this.workers) {
      if (worker.version === this.current.version && worker.status !== 'draining' && worker.status !== 'exited') count++;
    }
    return count;
  }

  /** Ready workers of the current version with nothing in flight. */
  private idleCount(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.version === this.current.version && worker.status === 'ready' && !worker.busy) count++;
    return count;
  }

  /** Idle workers, and starting ones no queued request waits for: what a request arriving now would find without waiting for a worker to start. */
  private spareCount(): number {
    let idle = 0;
    let starting = 0;
    for (const worker of this.workers) {
      if (worker.version !== this.current.version) continue;
      if (worker.status === 'ready' && !worker.busy) idle++;
      else if (worker.status === 'starting' || worker.status === 'specialising') starting++;
    }
    const awaited = Math.ceil(this.queue.length / this.current.spec.limits.concurrency);
    return idle + Math.max(0, starting - awaited);
  }

  private readyCount(): number {
    let count = 0;
    for (const worker of this.workers) if (worker.version === this.current.version && worker.status === 'ready') count++;
    return count;
  }

  /** Starts workers for what is queued (beyond the capacity already starting), up to `min`, and up to `spare` idle ones. */
  private scale(): void {
    if (this.removed || this.backoffUntil > nowMs()) return;
    const concurrency = this.current.spec.limits.concurrency;
    let deficit = this.queue.length - this.starting * concurrency;
    let live = this.liveCount();
    while (deficit > 0 && live < this.settings.max) {
      if (this.spawn('cold', this.current) === undefined) return;
      deficit -= concurrency;
      live++;
    }
    while (live < this.settings.min) {
      if (this.spawn('prewarm', this.current) === undefined) return;
      live++;
    }
    if (this.settings.spare === 0) return;
    for (let spare = this.spareCount(); spare < this.settings.spare && live < this.settings.max; spare++, live++) {
      if (this.spawn('prewarm', this.current) === undefined) return;
    }
  }

  private spawn(reason: SpawnReason, version: FunctionVersion): Worker | undefined {
    const { supervisor, stemCells, events } = this.deps;
    const flavour = stemCellFlavour(version);
    const stemCell = flavour === undefined ? undefined : stemCells.take(flavour, this.hooks);
    const id = stemCell?.id ?? supervisor.allocateId();
    events.publish({ type: 'spawn_requested', function: version.spec.name, workerId: id, reason });
    const launch = launchFor(version, id);
    let worker: Worker;
    try {
      if (stemCell === undefined) {
        worker = supervisor.start(id, launch, this.hooks);
      } else {
        worker = stemCell;
        supervisor.specialise(worker, launch, version.artifact.entry!);
      }
    } catch (error) {
      const failure = error instanceof HearthError ? error : new HearthError('HEARTH_ERR_SPAWN', `function ${version.spec.name}: ${(error as Error).message}`, { cause: error });
      stemCell?.kill(`specialisation failed: ${failure.message}`, 'HEARTH_ERR_SPAWN');
      if (version === this.current && reason !== 'validate') this.startFailed(failure);
      else this.lastStartError = failure;
      return undefined;
    }
    this.adopt(worker, version, launch);
    this.workers.add(worker);
    // A validation worker is waited for by its deployer, not counted as capacity on the way.
    if (version === this.current && reason !== 'validate') this.starting++;
    return worker;
  }

  /** A started worker belongs to `version`: it holds the version's state, and observers hear of it. */
  private adopt(worker: Worker, version: FunctionVersion, launch: LaunchSpec): void {
    worker.version = version.version;
    if (version.state !== undefined) this.deps.store.acquire(version.state);
    this.deps.events.publish({ type: 'worker_spawned', function: version.spec.name, workerId: worker.id, pid: worker.pid, binary: launch.file, origin: worker.origin });
  }

  private startFailed(error: HearthError): void {
    this.startFailures++;
    this.lastStartError = error;
    const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.startFailures - 1));
    this.backoffUntil = nowMs() + delay;
    this.deps.log.warn(`${error.message} (failure ${this.startFailures}; next start in ${delay} ms)`);
    clearTimeout(this.backoffTimer);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.scale();
    }, delay);
    this.backoffTimer.unref();
    if (this.failingToStart()) for (const invocation of this.queue.drain()) this.refuse(invocation, this.unavailable(delay));
  }

  /**
   * Nothing serves and starts keep failing: refuse at once rather than queue. One failure is
   * not enough (a start killed from outside, or a worker that met a transient error): what is
   * queued waits for the first retry, within its deadline.
   */
  private failingToStart(): boolean {
    return this.startFailures >= REFUSE_AFTER_START_FAILURES && this.readyCount() === 0 && this.starting === 0;
  }

  private recycleGrown(): void {
    const limitMb = this.current.spec.limits.recycleMemoryMb;
    if (limitMb <= 0) return;
    for (const worker of this.workers) {
      if (worker.status !== 'ready') continue;
      const privateMb = privateMemoryBytes(worker.pid) / 1048576;
      if (privateMb > limitMb) {
        this.deps.log.info(`worker ${worker.pid} of ${this.name} uses ${privateMb.toFixed(0)} MiB of private memory (> recycleMemoryMb ${limitMb}); recycling it`);
        worker.retire('memory growth');
      }
    }
  }

  private useStemCells(version: FunctionVersion, delta: 1 | -1): void {
    const flavour = stemCellFlavour(version);
    if (flavour === undefined) return;
    if (delta > 0) this.deps.stemCells.use(flavour);
    else this.deps.stemCells.unuse(flavour);
  }

  // ---- worker hooks ----

  private onReady(worker: Worker): void {
    const candidate = this.candidates.get(worker);
    if (candidate !== undefined) {
      this.candidates.delete(worker);
      candidate.resolve(worker);
    } else if (worker.version === this.current.version) {
      this.starting = Math.max(0, this.starting - 1);
    }
    this.announceReady(worker);
    if (worker.version !== this.current.version) {
      // A candidate of a version not yet active waits unlisted; anything else is stale.
      if (candidate === undefined) worker.retire('its version is no longer current');
      return;
    }
    this.startFailures = 0;
    this.backoffUntil = 0;
    this.lastStartError = undefined;
    this.onSlotFree(worker);
  }

  private announceReady(worker: Worker): void {
    const seconds = (worker.readyAt - worker.spawnedAt) / 1000;
    this.deps.metrics.workerStarted(this.name, worker.origin === 'stem-cell' ? 'stem_cell' : 'scratch', seconds);
    this.deps.events.publish({ type: 'worker_ready', function: this.name, workerId: worker.id, pid: worker.pid, spawnToReadyMs: seconds * 1000 });
  }

  private onSlotFree(worker: Worker): void {
    if (worker.version !== this.current.version || worker.status !== 'ready') return;
    const limit = this.current.spec.limits.maxInvocations;
    if (limit > 0 && worker.invocations >= limit) {
      worker.retire(`recycled after ${worker.invocations} invocations`);
      this.scale();
      return;
    }
    while (worker.freeSlots > 0 && this.queue.length > 0) this.dispatch(worker, this.queue.shift()!);
    // A keep-alive of 0 keeps no idle worker, not even until the next timer.
    if (!worker.busy && this.settings.keepAliveMs === 0 && this.liveCount() > this.settings.min && this.idleCount() > this.settings.spare) {
      worker.shutdown('idle, and keepAliveMs is 0');
      return;
    }
    this.list(worker);
    if (worker.busy) return;
    // A worker freed while spares are idle: those the spares held past their keep-alive go now, not at the next tick.
    if (this.settings.spare > 0) return this.tick(nowMs());
    // Only a pool above `min` has workers to retire (the size counts draining ones too: at worst a timer too many).
    if (this.workers.size > this.settings.min) this.armExpiry(worker.lastUsedAt + this.settings.keepAliveMs);
  }

  private onInvocationEnded(worker: Worker, invocation: Invocation, status: number, errorCode?: string): void {
    if (invocation.generated === true) return;
    const { events, metrics } = this.deps;
    const now = nowMs();
    const event: Extract<RuntimeEventInput, { type: 'invoke_end' }> = {
      type: 'invoke_end',
      function: this.name,
      id: invocation.id,
      workerId: worker.id,
      pid: worker.pid,
      cold: invocation.cold,
      status,
      durationMs: now - invocation.dispatchedAt,
      latencyMs: now - invocation.arrivedAt,
    };
    if (errorCode !== undefined) event.errorCode = errorCode;
    events.publish(event);
    metrics.invocation(this.name, invocation.cold ? 'cold' : 'warm', outcomeOf(status, errorCode), (now - invocation.arrivedAt) / 1000);
  }

  private onExit(worker: Worker, info: ExitInfo): void {
    this.workers.delete(worker);
    worker.listed = false;
    this.recordExit(worker, info);
    const candidate = this.candidates.get(worker);
    if (candidate !== undefined) {
      this.candidates.delete(worker);
      candidate.reject(startError(this.name, worker, info));
      return;
    }
    if (info.beforeReady && worker.version === this.current.version) {
      this.starting = Math.max(0, this.starting - 1);
      if (!this.removed) this.startFailed(startError(this.name, worker, info));
      return;
    }
    this.scale();
  }

  /** What every exit leaves: the state released, the event, the metric, and a warning when the worker was not asked to go. */
  private recordExit(worker: Worker, info: ExitInfo): void {
    const { events, metrics, store, log } = this.deps;
    if (worker.state !== undefined) store.release(worker.state);
    if (info.oomKilled) this.oomKills++;
    events.publish({
      type: 'worker_exit',
      function: this.name,
      workerId: worker.id,
      pid: worker.pid,
      code: info.code,
      signal: info.signal,
      reason: info.reason,
      inflight: info.inflight,
      oomKilled: info.oomKilled,
      ...(info.peakMemoryBytes === undefined ? {} : { peakMemoryBytes: info.peakMemoryBytes }),
    });
    metrics.workerExited(this.name, exitCategory(info));
    const expected = info.code === 0 && info.inflight.length === 0;
    if (!expected) log.warn(`worker ${worker.pid} of ${this.name} ${info.reason}${info.lastOutput.length ? `; last output: ${info.lastOutput.slice(-3).join(' | ')}` : ''}`);
  }
}

function startError(fn: string, worker: Worker, info: ExitInfo): HearthError {
  const output = info.lastOutput.slice(-5).join('\n');
  return new HearthError('HEARTH_ERR_WORKER_START', `function ${fn}: worker ${worker.pid} ${info.reason} before it was ready${output === '' ? '' : `; its last output:\n${output}`}`, {
    details: { function: fn, pid: worker.pid },
  });
}

function outcomeOf(status: number, errorCode?: string): Outcome {
  if (status < 400) return 'ok';
  if (errorCode === 'HEARTH_ERR_HANDLER') return 'handler_error';
  if (errorCode === 'HEARTH_ERR_INVOKE_TIMEOUT') return 'timeout';
  return 'crash';
}

function exitCategory(info: ExitInfo): string {
  if (info.oomKilled) return 'oom';
  if (info.beforeReady) return 'start_failed';
  if (info.code === 0) return 'normal';
  if (/timeout/.test(info.reason)) return 'timeout';
  if (/bad frame/.test(info.reason)) return 'protocol';
  return 'crash';
}
