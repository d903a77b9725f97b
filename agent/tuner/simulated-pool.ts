// One function's pool as the runtime runs it (runtime/pool/pool.ts), on a virtual clock:
// a request goes to the most recently used idle worker, else waits in a FIFO queue while a
// worker is started for it (up to `max`); `min` workers are kept; an idle worker above
// `min` retires after `keepAliveMs`, or later if a pre-warm holds it; at a pre-warm's moment
// its workers are found idle or started, and held until its end. Events the pool needs later are handed to
// `schedule`, and come back through the methods named after them.

import { LatencyHistogram } from './latency-histogram.js';
import { decisionChanged, type PoolDecision, samePrewarm } from './policies/policy.js';

interface Worker {
  state: 'starting' | 'idle' | 'busy' | 'retired';
  readyAt: number;
  idleSince: number;
  /** A pre-warm holds this worker until then (or until it is used), whatever the keep-alive says. */
  heldUntil: number;
  /** Only the latest scheduled expiry of a worker counts. */
  expiryToken: number;
}

export interface Request {
  arrival: number;
  durationMs: number;
}

export type ScheduledEvent =
  | { kind: 'ready'; pool: SimulatedPool; worker: Worker }
  | { kind: 'end'; pool: SimulatedPool; worker: Worker; request: Request }
  | { kind: 'expire'; pool: SimulatedPool; worker: Worker; token: number }
  | { kind: 'prewarm'; pool: SimulatedPool; token: number };

export interface PoolCounters {
  invocations: number;
  coldStarts: number;
  /** Requests that waited without a cold start of their own: all workers busy, or the queue ahead of them. */
  queued: number;
  /** Workers started for any reason: a waiting request, `min`, or a pre-warm. */
  spawns: number;
  /** Decisions that changed what the runtime would apply. */
  decisions: number;
  /** Memory held by ready, idle workers, MB × clock seconds, up to the horizon. */
  idleMbSeconds: number;
  /** Arrival to end: waiting for a worker (a cold start, or all busy at `max`) and executing. */
  latency: LatencyHistogram;
  /** Arrival to start of execution: the part of the latency the pool is responsible for. */
  waiting: LatencyHistogram;
}

export interface PoolSetup {
  name: string;
  memoryMb: number;
  coldStartMs: number;
  /** A retired worker holds its memory this long while it stops (the runtime's shutdown request to its exit). */
  stopMs: number;
  /** Idle memory is counted up to this moment only. */
  horizonMs: number;
  schedule(at: number, event: ScheduledEvent): void;
}

export class SimulatedPool {
  readonly counters: PoolCounters = {
    invocations: 0,
    coldStarts: 0,
    queued: 0,
    spawns: 0,
    decisions: 0,
    idleMbSeconds: 0,
    latency: new LatencyHistogram(),
    waiting: new LatencyHistogram(),
  };
  decision: PoolDecision | undefined;
  /** Most recently used last; may hold workers that have since left the idle state. */
  private idleStack: Worker[] = [];
  private idleCount = 0;
  private starting = 0;
  private busy = 0;
  private readonly queue: Request[] = [];
  private queueHead = 0;
  private prewarmToken = 0;

  constructor(private readonly setup: PoolSetup) {}

  get name(): string {
    return this.setup.name;
  }

  /** A worker already idle, since `idleSince` (before the start), when the pool is first simulated; the first decision schedules its expiry. */
  adoptIdle(idleSince: number): void {
    if (this.decision !== undefined) throw new Error(`simulated pool ${this.name}: idle workers are adopted before the first decision`);
    this.idleStack.push({ state: 'idle', readyAt: idleSince, idleSince, heldUntil: 0, expiryToken: 0 });
    this.idleCount++;
  }

  /** A request arrives; returns nothing, its end comes back as an 'end' event. */
  arrive(request: Request, now: number): void {
    this.counters.invocations++;
    const worker = this.takeIdle(now);
    if (worker !== undefined) {
      this.run(worker, request, now);
      return this.scale(now);
    }
    this.queue.push(request);
    this.scale(now);
  }

  ready(worker: Worker, now: number): void {
    this.starting--;
    this.release(worker, now);
  }

  end(worker: Worker, now: number): void {
    this.busy--;
    this.release(worker, now);
  }

  expire(worker: Worker, token: number, now: number): void {
    if (worker.state !== 'idle' || token !== worker.expiryToken || this.live() <= this.settings().min || this.idleCount <= (this.settings().spare ?? 0)) return;
    this.retire(worker, now);
  }

  private retire(worker: Worker, now: number): void {
    this.leaveIdle(worker, now + this.setup.stopMs);
    worker.state = 'retired';
    // Retired workers stay in the stack until they reach its top; drop them before they pile up.
    if (this.idleStack.length > 2 * this.idleCount + 64) {
      this.idleStack = this.idleStack.filter((candidate) => candidate.state === 'idle');
    }
  }

  /**
   * As the runtime applies a pre-warm (a higher `min` over its window): at least its workers
   * live, busy and starting ones counted, so the most recently used idle workers are held to
   * the window's end and more are started if those are too few.
   */
  prewarm(token: number, now: number): void {
    const prewarm = this.decision?.prewarm;
    if (token !== this.prewarmToken || prewarm === undefined || prewarm.untilMs <= now) return;
    let wanted = prewarm.workers - this.busy - this.starting;
    for (let i = this.idleStack.length - 1; i >= 0 && wanted > 0; i--) {
      const worker = this.idleStack[i]!;
      if (worker.state !== 'idle') continue;
      worker.heldUntil = Math.max(worker.heldUntil, prewarm.untilMs);
      this.scheduleExpiry(worker, now);
      wanted--;
    }
    for (; wanted > 0 && this.live() < this.settings().max; wanted--) this.spawn(now).heldUntil = prewarm.untilMs;
  }

  /** Applies a policy's decision as the runtime would after a PATCH; a repeat of the current one changes nothing. */
  apply(decision: PoolDecision, now: number): void {
    const previous = this.decision;
    if (!decisionChanged(previous, decision)) return;
    this.counters.decisions++;
    this.decision = decision;
    // A new pre-warm replaces any pending one; a decision without one cancels it. One already
    // open holds its workers before a shorter keep-alive could retire them, as one PATCH does.
    if (!samePrewarm(previous?.prewarm, decision.prewarm)) {
      this.prewarmToken++;
      if (decision.prewarm !== undefined && decision.prewarm.atMs <= now) this.prewarm(this.prewarmToken, now);
      else if (decision.prewarm !== undefined) this.setup.schedule(decision.prewarm.atMs, { kind: 'prewarm', pool: this, token: this.prewarmToken });
    }
    if (decisionChanged(previous, decision, { prewarm: false })) {
      for (const worker of this.idleStack) if (worker.state === 'idle') this.scheduleExpiry(worker, now);
    }
    this.scale(now);
  }

  /** Counts the memory of workers still idle at the horizon. */
  finish(): void {
    for (const worker of this.idleStack) {
      if (worker.state !== 'idle') continue;
      this.leaveIdle(worker, this.setup.horizonMs);
      worker.state = 'retired';
    }
  }

  private settings(): PoolDecision {
    if (this.decision === undefined) throw new Error(`simulated pool ${this.name}: used before its first decision`);
    return this.decision;
  }

  private live(): number {
    return this.idleCount + this.starting + this.busy;
  }

  /** A worker that just became free takes the oldest waiting request, or goes idle. */
  private release(worker: Worker, now: number): void {
    if (this.queueHead < this.queue.length) {
      const request = this.queue[this.queueHead++]!;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      return this.run(worker, request, now);
    }
    worker.state = 'idle';
    worker.idleSince = now;
    this.idleStack.push(worker);
    this.idleCount++;
    this.scheduleExpiry(worker, now);
    this.retireOverdue(now);
  }

  /**
   * As the runtime does when a worker is freed while spares are idle: idle workers that the
   * spares held past their keep-alive (or pre-warm), oldest first, retire while more than
   * `spare` are idle.
   */
  private retireOverdue(now: number): void {
    const { min, keepAliveMs, spare = 0 } = this.settings();
    if (spare === 0) return;
    for (const worker of this.idleStack) {
      if (this.idleCount <= spare || this.live() <= min) return;
      if (worker.state === 'idle' && worker.idleSince + keepAliveMs <= now && worker.heldUntil <= now) this.retire(worker, now);
    }
  }

  private run(worker: Worker, request: Request, now: number): void {
    worker.state = 'busy';
    worker.heldUntil = 0;
    this.busy++;
    const cold = worker.readyAt > request.arrival;
    if (cold) this.counters.coldStarts++;
    else if (now > request.arrival) this.counters.queued++;
    const end = now + request.durationMs;
    this.counters.latency.record(end - request.arrival);
    this.counters.waiting.record(now - request.arrival);
    this.setup.schedule(end, { kind: 'end', pool: this, worker, request });
  }

  private scale(now: number): void {
    const { min, max } = this.settings();
    let deficit = this.queue.length - this.queueHead - this.starting;
    while (deficit > 0 && this.live() < max) {
      this.spawn(now);
      deficit--;
    }
    while (this.live() < min) this.spawn(now);
    const spare = this.settings().spare ?? 0;
    while (this.idleCount + this.starting - (this.queue.length - this.queueHead) < spare && this.live() < max) this.spawn(now);
  }

  private spawn(now: number): Worker {
    const worker: Worker = { state: 'starting', readyAt: now + this.setup.coldStartMs, idleSince: 0, heldUntil: 0, expiryToken: 0 };
    this.starting++;
    this.counters.spawns++;
    this.setup.schedule(worker.readyAt, { kind: 'ready', pool: this, worker });
    return worker;
  }

  private scheduleExpiry(worker: Worker, now: number): void {
    const at = Math.max(now, worker.idleSince + this.settings().keepAliveMs, worker.heldUntil);
    this.setup.schedule(at, { kind: 'expire', pool: this, worker, token: ++worker.expiryToken });
  }

  private peekIdle(): Worker | undefined {
    while (this.idleStack.length > 0 && this.idleStack[this.idleStack.length - 1]!.state !== 'idle') this.idleStack.pop();
    return this.idleStack[this.idleStack.length - 1];
  }

  private takeIdle(now: number): Worker | undefined {
    const worker = this.peekIdle();
    if (worker === undefined) return undefined;
    this.idleStack.pop();
    this.leaveIdle(worker, now);
    return worker;
  }

  private leaveIdle(worker: Worker, now: number): void {
    const horizon = this.setup.horizonMs;
    // Only idle time inside [0, horizon] counts.
    this.counters.idleMbSeconds += (this.setup.memoryMb * Math.max(0, Math.min(now, horizon) - Math.max(0, Math.min(worker.idleSince, horizon)))) / 1000;
    this.idleCount--;
  }
}
