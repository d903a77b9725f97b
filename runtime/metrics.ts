import client from 'prom-client';
import { InvocationMetrics, type Outcome, type StartKind } from './invocation-metrics.js';
import type { GcSpec } from './manifest/spec.js';

export type { Outcome, StartKind };
export type StartPath = 'scratch' | 'stem_cell';

export interface PoolGauges {
  fn: string;
  idle: number;
  busy: number;
  starting: number;
  draining: number;
  queued: number;
}

/** The runtime's Prometheus metrics (GET /metrics). One registry per runtime instance. */
export class RuntimeMetrics {
  readonly registry = new client.Registry();
  private readonly invocations: InvocationMetrics;
  private readonly coldStarts: client.Counter<'function' | 'path'>;
  private readonly spawnToReady: client.Histogram<'function' | 'path'>;
  private readonly workerExits: client.Counter<'function' | 'reason'>;
  private readonly rejected: client.Counter<'function' | 'code'>;

  constructor(
    pools: () => PoolGauges[],
    states: () => { fn: string; id: string; bytes: number; backend: string }[],
    gcSettings: () => { fn: string; gc: GcSpec }[],
  ) {
    this.registry.setDefaultLabels({});
    // The event-loop delay histogram samples on a timer; at Node's default of 10 ms it wakes an
    // idle process 100 times a second. A tenth of that still shows a stalled loop.
    client.collectDefaultMetrics({ register: this.registry, prefix: 'hearth_runtime_', eventLoopMonitoringPrecision: 100 });
    this.invocations = new InvocationMetrics(this.registry);
    this.coldStarts = new client.Counter({
      name: 'hearth_cold_starts_total',
      help: 'Workers started, by function and path (from scratch or from a stem cell).',
      labelNames: ['function', 'path'],
      registers: [this.registry],
    });
    this.spawnToReady = new client.Histogram({
      name: 'hearth_spawn_to_ready_seconds',
      help: 'Time from the decision to start a worker to its ready handshake.',
      labelNames: ['function', 'path'],
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [this.registry],
    });
    this.workerExits = new client.Counter({
      name: 'hearth_worker_exits_total',
      help: 'Worker exits, by function and reason.',
      labelNames: ['function', 'reason'],
      registers: [this.registry],
    });
    this.rejected = new client.Counter({
      name: 'hearth_rejected_total',
      help: 'Requests refused before reaching a worker, by function and error code.',
      labelNames: ['function', 'code'],
      registers: [this.registry],
    });
    const poolGauge = new client.Gauge({
      name: 'hearth_pool_workers',
      help: 'Workers per function by state.',
      labelNames: ['function', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools()) {
          for (const state of ['idle', 'busy', 'starting', 'draining'] as const) this.set({ function: pool.fn, state }, pool[state]);
        }
      },
    });
    void poolGauge;
    new client.Gauge({
      name: 'hearth_queue_depth',
      help: 'Requests waiting for a worker, per function.',
      labelNames: ['function'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const pool of pools()) this.set({ function: pool.fn }, pool.queued);
      },
    });
    new client.Gauge({
      name: 'hearth_state_bytes',
      help: 'Bytes of state mapped by each function\'s current version.',
      labelNames: ['function', 'state_id', 'backend'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const state of states()) this.set({ function: state.fn, state_id: state.id.slice(0, 12), backend: state.backend }, state.bytes);
      },
    });
    new client.Gauge({
      name: 'hearth_function_gc_setting',
      help: 'Each function\'s GC settings in force, by manifest field (gogc, memoryLimitMb, maxOldSpaceMb, maxSemiSpaceMb); a field left to the language\'s default has no series.',
      labelNames: ['function', 'setting'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { fn, gc } of gcSettings()) {
          for (const [setting, value] of Object.entries(gc)) if (value !== undefined) this.set({ function: fn, setting }, value);
        }
      },
    });
  }

  /** Per-invocation recording: on the invoke path, so a few increments (InvocationMetrics). */
  invocation(fn: string, start: StartKind, outcome: Outcome, seconds: number): void {
    this.invocations.record(fn, start, outcome, seconds);
  }

  reject(fn: string, code: string): void {
    this.rejected.inc({ function: fn, code });
  }

  workerStarted(fn: string, path: StartPath, seconds: number): void {
    this.coldStarts.inc({ function: fn, path });
    this.spawnToReady.observe({ function: fn, path }, seconds);
  }

  workerExited(fn: string, reason: string): void {
    this.workerExits.inc({ function: fn, reason });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
