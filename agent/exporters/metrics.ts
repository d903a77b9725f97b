import client from 'prom-client';
import { PHASES } from '../../shared/phases.js';
import type { ColdStartRecord, ExitRecord } from '../phases/tracker.js';
import type { GcShare } from '../profile/gc-share.js';
import type { ProfilerCounters } from '../profile/profiler.js';
import type { PlanKind } from '../probes/plan-worker.js';
import { FARO_ITEM_KINDS, FARO_REJECTIONS, type FaroCounters, type FaroItemKind, type FaroRejection } from './faro-collector.js';

/** The window the GC share metric is computed over. */
export const GC_SHARE_WINDOW_S = 60;

/** The binaries the agent attaches probes to; a Record, so a new PlanKind has to be listed here. */
const ATTACH_TARGETS: Record<PlanKind, null> = { go: null, node: null, 'node-addon': null };

export interface ProbeCounters {
  emitted: number;
  dropped: number;
  trackFull: number;
  decodeErrors: number;
}

/** The agent's Prometheus metrics (its /metrics). */
export class AgentMetrics implements FaroCounters {
  readonly registry = new client.Registry();
  private readonly phase: client.Histogram<'function' | 'phase' | 'source'>;
  private readonly total: client.Histogram<'function' | 'origin'>;
  private readonly coldStarts: client.Counter<'function' | 'origin' | 'outcome'>;
  private readonly ooms: client.Counter<'function'>;
  private readonly crashes: client.Counter<'function' | 'kind'>;
  private readonly attachErrors: client.Counter<'target'>;
  private readonly faroItemsTotal: client.Counter<'kind'>;
  private readonly faroRejectedTotal: client.Counter<'reason'>;

  constructor(probes: () => ProbeCounters & { attached: number; tracked: number }, runtimeConnected: () => boolean) {
    // The event-loop delay histogram samples on a timer; at Node's default of 10 ms it wakes an
    // idle process 100 times a second. A tenth of that still shows a stalled loop.
    client.collectDefaultMetrics({ register: this.registry, prefix: 'hearth_agent_', eventLoopMonitoringPrecision: 100 });
    const buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
    this.phase = new client.Histogram({
      name: 'hearth_coldstart_phase_seconds',
      help: `Duration of each cold-start phase (${PHASES.join(', ')}), by function and where it was measured.`,
      labelNames: ['function', 'phase', 'source'],
      buckets,
      registers: [this.registry],
    });
    this.total = new client.Histogram({
      name: 'hearth_coldstart_seconds',
      help: 'Cold start from the spawn decision to the first response (or to ready for pre-warmed workers).',
      labelNames: ['function', 'origin'],
      buckets,
      registers: [this.registry],
    });
    this.coldStarts = new client.Counter({
      name: 'hearth_coldstarts_total',
      help: 'Cold starts recorded by the agent, by function, origin and outcome.',
      labelNames: ['function', 'origin', 'outcome'],
      registers: [this.registry],
    });
    this.ooms = new client.Counter({ name: 'hearth_agent_oom_kills_total', help: 'Workers killed by the OOM killer.', labelNames: ['function'], registers: [this.registry] });
    this.crashes = new client.Counter({ name: 'hearth_agent_worker_crashes_total', help: 'Workers that died abnormally, by kind (signal, exit code, oom).', labelNames: ['function', 'kind'], registers: [this.registry] });
    this.attachErrors = new client.Counter({ name: 'hearth_agent_attach_errors_total', help: 'Probes that could not be attached, by target binary.', labelNames: ['target'], registers: [this.registry] });
    this.faroItemsTotal = new client.Counter({ name: 'hearth_agent_faro_items_total', help: 'Items the web UI sent to /collect (Faro), by kind.', labelNames: ['kind'], registers: [this.registry] });
    this.faroRejectedTotal = new client.Counter({ name: 'hearth_agent_faro_rejected_total', help: 'Payloads /collect refused, by reason.', labelNames: ['reason'], registers: [this.registry] });
    // Every series exists from the start, so that rates and alerts see a 0 rather than nothing.
    for (const kind of FARO_ITEM_KINDS) this.faroItemsTotal.inc({ kind }, 0);
    for (const reason of FARO_REJECTIONS) this.faroRejectedTotal.inc({ reason }, 0);
    for (const target of Object.keys(ATTACH_TARGETS)) this.attachErrors.inc({ target }, 0);
    // Counts kept by the kernel (per-CPU map) or the probes, read when scraped.
    const counter = (name: string, help: string, pick: (counters: ReturnType<typeof probes>) => number): void => {
      new client.Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(pick(probes()));
        },
      });
    };
    const gauge = (name: string, help: string, pick: (counters: ReturnType<typeof probes>) => number): void => {
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(pick(probes()));
        },
      });
    };
    counter('hearth_agent_events_total', 'Kernel events emitted by the probes.', (c) => c.emitted);
    counter('hearth_agent_events_dropped_total', 'Kernel events lost because the ring buffer was full (never silent).', (c) => c.dropped);
    counter('hearth_agent_track_full_total', 'Processes not tracked because the tracking map was full.', (c) => c.trackFull);
    counter('hearth_agent_decode_errors_total', 'Ring buffer records that were not valid events.', (c) => c.decodeErrors);
    gauge('hearth_agent_probes_attached', 'Tracepoint programs and uprobes attached.', (c) => c.attached);
    gauge('hearth_agent_processes_tracked', 'Processes the agent is following.', (c) => c.tracked);
    new client.Gauge({
      name: 'hearth_agent_runtime_connected',
      help: '1 while the agent follows the runtime\'s event stream.',
      registers: [this.registry],
      collect() {
        this.set(runtimeConnected() ? 1 : 0);
      },
    });
  }

  /** The profiler's own counters and the GC share per function, read when scraped. */
  profiling(counters: () => ProfilerCounters | undefined, gcShares: () => GcShare[]): void {
    const counter = (name: string, help: string, pick: (c: ProfilerCounters) => number): void => {
      new client.Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          const current = counters();
          this.reset();
          if (current !== undefined) this.inc(pick(current));
        },
      });
    };
    counter('hearth_profile_samples_total', 'CPU samples counted in the kernel (cold-start and steady-state).', (c) => c.samples);
    counter('hearth_profile_stacks_lost_total', 'Samples whose user stack could not be kept (stack table full or a collision).', (c) => c.stackLost);
    counter('hearth_profile_samples_dropped_total', 'Samples lost because the kernel\'s sample table was full.', (c) => c.keysFull);
    counter('hearth_profile_cold_clocks_over_budget_total', 'Processes the runtime started that got no cold-start clock because --profile-cold-max-per-second were opened in the last second.', (c) => c.coldClocks.overBudget);
    counter('hearth_profile_samples_unattributed_total', 'Samples of tracked processes that are no announced worker (seeds, idle stem cells).', (c) => c.unattributed);
    new client.Gauge({
      name: 'hearth_profile_cold_clocks',
      help: 'Processes the cold-start sampling clock follows now (seeds, stem cells, starting workers); -1 when it runs on every CPU instead.',
      registers: [this.registry],
      collect() {
        const current = counters();
        this.set(current === undefined ? 0 : current.coldClocks.everyCpu ? -1 : current.coldClocks.followed);
      },
    });
    const shares = (): GcShare[] => (counters() === undefined ? [] : gcShares());
    new client.Gauge({
      name: 'hearth_gc_cpu_share',
      help: `Share of a function's sampled CPU time spent in the garbage collector, over the last ${GC_SHARE_WINDOW_S} s of steady-state samples.`,
      labelNames: ['function'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const share of shares()) if (share.share !== null) this.set({ function: share.function }, share.share);
      },
    });
    new client.Gauge({
      name: 'hearth_gc_share_samples',
      help: `Steady-state samples behind hearth_gc_cpu_share (last ${GC_SHARE_WINDOW_S} s).`,
      labelNames: ['function'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const share of shares()) this.set({ function: share.function }, share.samples);
      },
    });
  }

  record(record: ColdStartRecord): void {
    this.coldStarts.inc({ function: record.function, origin: record.origin, outcome: record.outcome });
    if (record.outcome !== 'served' && record.outcome !== 'ready') return;
    this.total.observe({ function: record.function, origin: record.origin }, record.totalNs / 1e9);
    for (const timing of record.phases) this.phase.observe({ function: record.function, phase: timing.phase, source: timing.source }, timing.durationNs / 1e9);
  }

  exit(record: ExitRecord): void {
    if (record.oomKilled) this.ooms.inc({ function: record.function });
    this.crashes.inc({ function: record.function, kind: record.oomKilled ? 'oom' : record.signal !== null ? 'signal' : 'exit_code' });
  }

  attachError(target: string): void {
    this.attachErrors.inc({ target });
  }

  faroItems(kind: FaroItemKind, count: number): void {
    this.faroItemsTotal.inc({ kind }, count);
  }

  faroRejected(reason: FaroRejection): void {
    this.faroRejectedTotal.inc({ reason });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
