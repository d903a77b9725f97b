import fs from 'node:fs';
import type http from 'node:http';
import type { RuntimeInfo } from '../shared/api.js';
import { HearthError } from '../shared/errors.js';
import type { RuntimeEvent } from '../shared/events.js';
import { createLogger, type Logger, type LogLevel } from '../shared/log.js';
import { PHASES, type Phase } from '../shared/phases.js';
import { checkHost, releaseFreeHeap, uprobeCapabilityMissing } from './bpf/index.js';
import { createAgentApi, listenAgent, type ProbeStatus } from './exporters/api.js';
import { FaroCollector } from './exporters/faro-collector.js';
import { AgentMetrics, GC_SHARE_WINDOW_S } from './exporters/metrics.js';
import { UiAssets } from './exporters/ui-assets.js';
import { type FunctionStats, RecordStore } from './phases/store.js';
import { DEFAULT_PROFILER_OPTIONS, Profiler, type ProfilerOptions } from './profile/profiler.js';
import { PhaseTracker } from './phases/tracker.js';
import { ColdStartProbes, childrenOf, descendantsOf, type AttachResult } from './probes/coldstart.js';
import { Marker } from './probes/events.js';
import { planInWorker, type PlanKind } from './probes/plan-worker.js';
import { ProcessRoot } from './process-root.js';
import { SyscallHookDemand, type SyscallHookMode } from './probes/syscall-demand.js';
import type { PlanOptions } from './probes/targets.js';
import { RuntimeClient, type Follower } from './runtime-client.js';
import type { GcAdvisor } from './tuner/gc-advice.js';
import { createGcAdvisor, gcShareFromProfiler } from './tuner/gc/advisor.js';
import { DEFAULT_TUNER_OPTIONS, LiveTuner, type LiveTunerOptions } from './tuner/live/live-tuner.js';

export interface AgentOptions {
  runtimeUrl: string;
  token: string;
  host: string;
  port: number;
  /** When to hook mmap/write syscalls for any binary (~125 ns per syscall host-wide while attached): see SyscallHookDemand. */
  syscalls: SyscallHookMode;
  probes: Omit<PlanOptions, 'goSdkMarkers'>;
  /** CPU sampling of the workers (cold-start and steady-state profiles); null: off. */
  profile: ProfilerOptions | null;
  /** Where the web UI sends its telemetry (a Grafana Alloy faro.receiver); null: the agent's own /collect. */
  faroUrl: string | null;
  /** The live tuner: its mode (on, dry-run, off), policy and windows. */
  tuner: Partial<LiveTunerOptions>;
  /** GC settings advice the tuner applies (agent/tuner/gc-advice.ts); by default Hearth's advisor (agent/tuner/gc/), null: the tuner leaves GC alone. */
  gcAdvisor?: GcAdvisor | null;
  logLevel: LogLevel;
  logger?: Logger;
  objectPath?: string;
}

export const DEFAULT_AGENT_PORT = 8701;

export function defaultAgentOptions(): Omit<AgentOptions, 'token'> {
  return {
    runtimeUrl: 'http://127.0.0.1:8700',
    host: '127.0.0.1',
    port: DEFAULT_AGENT_PORT,
    syscalls: 'auto',
    probes: { invocations: false, packageInits: false },
    profile: { ...DEFAULT_PROFILER_OPTIONS },
    faroUrl: null,
    tuner: { mode: DEFAULT_TUNER_OPTIONS.mode },
    logLevel: 'info',
  };
}

/** A cold start's cost for the tuner: the median of each phase up to ready. The first response is left out: it holds the first request's own execution, which a warm start pays too. */
function measuredColdStart(stats: FunctionStats): Partial<Record<Phase, number>> | undefined {
  if (stats.coldStarts === 0) return undefined;
  const phases: Partial<Record<Phase, number>> = {};
  for (const phase of PHASES) {
    const measured = stats.phases[phase];
    if (phase !== 'first_response' && measured !== undefined) phases[phase] = measured.p50Ms;
  }
  return phases;
}

/** What the API says of a binary's probes, from what attaching them gave. */
function statusOf(kind: PlanKind, result: AttachResult): ProbeStatus {
  const sdkMarkers = result.markers.includes(Marker.STATE_MAPPED) && result.markers.includes(Marker.READY);
  return { binary: result.binary, kind, attached: result.attached, sdkMarkers, missing: result.missing, errors: result.errors };
}

/**
 * How often kernel events are drained and settled cold starts become records; the runtime's
 * events arrive at the same pace (batchMs). Each wake of the agent costs it ~0.15 ms of CPU on
 * a small VM, so it wakes on a timer rather than per event: the 4 MiB ring holds 65,536 events.
 */
const TICK_MS = 100;
/** CPU samples are read and symbolised every this many ticks. */
const PROFILE_EVERY_TICKS = 10;

/**
 * The agent: eBPF probes on the runtime's workers, joined with the runtime's own events into
 * one record per cold start, served as metrics, JSON and records for the CLI.
 */
export class Agent {
  readonly log: Logger;
  readonly store = new RecordStore();
  readonly metrics: AgentMetrics;
  private probes: ColdStartProbes | undefined;
  profiler: Profiler | undefined;
  private profilerError: string | undefined;
  private readonly tracker: PhaseTracker;
  private readonly runtime: RuntimeClient;
  private follower: Follower | undefined;
  private server: http.Server | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private runtimeInfo: RuntimeInfo | undefined;
  /** Where the runtime's files (and its workers', which share its mount namespace) open from here. */
  private runtimeRoot = ProcessRoot.OWN;
  private connected = false;
  private toggling: Promise<void> = Promise.resolve();
  private readonly probeStatus = new Map<string, ProbeStatus>();
  private readonly planning = new Map<string, Promise<void>>();
  readonly tuner: LiveTuner;
  private readonly syscallDemand: SyscallHookDemand;
  /** Whether the log already said why uprobes are refused. */
  private explainedUprobeRefusal = false;
  url = '';

  constructor(readonly options: AgentOptions) {
    this.log = options.logger ?? createLogger(options.logLevel);
    this.syscallDemand = new SyscallHookDemand(options.syscalls, (on, reason) => this.setSyscallHooks(on, reason));
    this.runtime = new RuntimeClient(options.runtimeUrl, options.token);
    this.tracker = new PhaseTracker({
      settleNs: 50e6,
      timeoutNs: 60e9,
      onRecord: (record) => {
        const profiled = this.profiler?.sampledFromExec(record.pid);
        const complete = profiled === undefined ? record : { ...record, profiled };
        this.store.add(complete);
        this.metrics.record(complete);
      },
      onExit: (record) => {
        this.store.addExit(record);
        this.metrics.exit(record);
        this.log.warn(`worker ${record.pid} of ${record.function} ${record.reason}${record.oomKilled ? ' (OOM kill)' : ''}${record.inflight.length > 0 ? `; it was running invocation ${record.inflight.join(', ')}` : ''}`);
      },
    });
    this.metrics = new AgentMetrics(
      () => ({ ...(this.probes?.counters() ?? { emitted: 0, dropped: 0, trackFull: 0 }), decodeErrors: this.probes?.decodeErrors ?? 0, attached: this.probes?.attachedCount ?? 0, tracked: this.tracker.tracking.processes }),
      () => this.connected,
    );
    const gcAdvisor = options.gcAdvisor !== undefined ? options.gcAdvisor : createGcAdvisor({ runtime: this.runtime, gcShare: gcShareFromProfiler(() => this.profiler), log: this.log.child('gc-advisor') });
    this.tuner = new LiveTuner(options.tuner, {
      runtime: this.runtime,
      coldStartPhases: (fn) => measuredColdStart(this.store.stats(fn)),
      registry: this.metrics.registry,
      log: this.log.child('tuner'),
      ...(gcAdvisor === null ? {} : { gcAdvisor }),
    });
  }

  async start(): Promise<void> {
    const host = checkHost();
    if (!host.ok) throw new HearthError('HEARTH_ERR_NOT_SUPPORTED', `the agent cannot trace on this host: ${host.missing}`);
    this.log.info(`kernel ${host.kernel}, ${host.libbpf}`);
    this.probes = ColdStartProbes.open(this.log.child('probes'), (event) => {
      this.tracker.kernel(event);
      this.profiler?.kernel(event);
    }, {
      syscalls: this.syscallDemand.wanted(),
      ...(this.options.objectPath === undefined ? {} : { objectPath: this.options.objectPath }),
    });
    if (this.options.profile !== null) this.startProfiler(this.options.profile);
    this.startTicker();
    const ui = UiAssets.load(this.options.faroUrl);
    if (ui.missing !== undefined) this.log.warn(`no web UI: ${ui.missing}`);
    this.server = createAgentApi({
      token: this.options.token,
      store: this.store,
      metrics: this.metrics,
      health: () => ({ attached: this.attached, runtimeConnected: this.connected, runtimePid: this.runtimeInfo?.pid ?? null, probesAttached: this.probes?.attachedCount ?? 0, syscallHooks: this.probes?.syscallHooks ?? false, coldStarts: this.store.total }),
      probes: () => [...this.probeStatus.values()],
      attached: () => this.attached,
      setAttached: (attached) => (attached ? this.attach() : this.detach()),
      profiler: () => this.profiler,
      profilerError: () => this.profilerError,
      workers: (fn) => this.runtime.workers(fn),
      faro: new FaroCollector(this.metrics, this.log.child('ui')),
      ui,
      tuner: { tuner: this.tuner },
    });
    const address = await listenAgent(this.server, this.options.host, this.options.port);
    this.url = `http://${address.address}:${address.port}`;
    await this.connect();
    releaseFreeHeap();
    this.log.info(`serving ${this.url} (web UI, metrics, cold starts, phases), following the runtime at ${this.options.runtimeUrl}`);
  }

  async stop(): Promise<void> {
    this.tuner.stop();
    this.follower?.stop();
    clearInterval(this.ticker);
    this.profiler?.close();
    this.profiler = undefined;
    this.probes?.close();
    this.probes = undefined;
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
    this.server?.closeAllConnections();
  }

  /**
   * Detaches every probe and clock and stops following the runtime: the kernel runs none of
   * the agent's programs and the runtime sends it nothing until attach(). Cold starts meanwhile
   * go unrecorded, and so do those under way; the records, profiles and the tuner stay.
   */
  detach(): Promise<void> {
    return this.toggle(async () => {
      if (!this.attached || this.probes === undefined) return;
      this.follower?.stop();
      this.follower = undefined;
      this.connected = false;
      clearInterval(this.ticker);
      this.profiler?.pause();
      this.probes.detach();
      this.probes.drain();
      this.tracker.reset();
      this.log.info('probes detached: nothing is traced until they are attached again');
    });
  }

  /** Attaches what detach() removed, probes the functions deployed meanwhile, and follows the runtime again from now. */
  attach(): Promise<void> {
    return this.toggle(async () => {
      if (this.attached || this.probes === undefined) return;
      try {
        for (const result of this.probes.reattach(this.syscallDemand.wanted())) {
          const known = this.probeStatus.get(result.binary);
          if (known !== undefined) this.probeStatus.set(result.binary, statusOf(known.kind, result));
        }
        this.profiler?.resume();
      } catch (error) {
        this.profiler?.pause();
        this.probes.detach();
        throw error;
      }
      this.startTicker();
      await this.followRuntime();
      this.log.info(`probes attached again: ${this.probes.attachedCount} links`);
    });
  }

  /** Whether the probes and clocks are attached (PUT /v1/probes): from start() on, but for detach() to attach(). */
  private get attached(): boolean {
    return this.probes?.attached ?? true;
  }

  /** Runs attach and detach one at a time, in the order asked. */
  private toggle(change: () => Promise<void>): Promise<void> {
    const next = this.toggling.then(change);
    this.toggling = next.catch(() => undefined);
    return next;
  }

  private startTicker(): void {
    let ticks = 0;
    this.ticker = setInterval(() => {
      this.probes?.drain();
      this.profiler?.followNewProcesses();
      this.tracker.tick(Number(process.hrtime.bigint()));
      if (++ticks % PROFILE_EVERY_TICKS === 0) this.profiler?.collect();
    }, TICK_MS);
  }

  /** Finds the runtime, traces its descendants, probes its binaries, and follows its events; then starts the tuner. */
  private async connect(): Promise<void> {
    const info = await this.followRuntime();
    // The tuner follows the runtime on its own stream (every invocation); a failure to start it leaves the rest of the agent running.
    await this.tuner.start(info.lastEventSeq).catch((error: Error) => this.log.warn(`the tuner did not start: ${error.message}; PUT /v1/tuner/mode starts it again`));
  }

  private async followRuntime(): Promise<RuntimeInfo> {
    const info = await this.runtime.info();
    await this.adopt(info);
    const functions = await this.runtime.functions();
    for (const fn of functions) {
      if (fn.kind === 'go') await this.probeBinary(fn.binary, 'go');
      this.syscallDemand.prepared(fn.name, this.reportsThroughMarkers(fn.kind, fn.binary));
    }
    this.profiler?.adoptWorkers((await this.runtime.workers()).workers, functions);
    // Warm invocations do not concern cold starts: leave them out at the source.
    this.follower = this.runtime.follow({ since: info.lastEventSeq, batchMs: TICK_MS, hold: true, invocations: 'cold' }, (event) => this.onRuntimeEvent(event), (connected, error) => {
      if (connected === this.connected) return;
      this.connected = connected;
      if (connected) {
        this.log.info('following the runtime\'s events');
        void this.runtime.info().then(
          (latest) => {
            if (latest.pid !== this.runtimeInfo?.pid) void this.adopt(latest);
          },
          () => undefined,
        );
      } else {
        this.log.warn(`lost the runtime's event stream (${error ?? 'closed'}); reconnecting`);
      }
    });
    return info;
  }

  /** A runtime (new, or restarted with a new pid): trace its descendants and its Node binaries. */
  private async adopt(info: RuntimeInfo): Promise<void> {
    this.runtimeInfo = info;
    this.runtimeRoot = ProcessRoot.of(info.pid);
    this.log.info(`runtime ${info.pid}: ${this.runtimeRoot.reason}`);
    if (!fs.existsSync(this.runtimeRoot.path(info.nodeBinary))) {
      this.log.warn(`the runtime's Node binary ${info.nodeBinary} is not visible to the agent: if the runtime runs in another container, the agent needs the host's PID namespace and CAP_SYS_PTRACE to open its files through /proc/${info.pid}/root (see deploy/agent.yaml)`);
    }
    const probes = this.probes!;
    probes.setRoots([info.pid]);
    const existing = descendantsOf(info.pid);
    probes.track(existing, Number(process.hrtime.bigint()));
    this.log.info(`tracing the descendants of runtime ${info.pid} (${existing.length} already running)`);
    if (this.profiler !== undefined) {
      // Its seeds and stem cells get a cold-start clock; ready workers need none.
      const workers = await this.runtime.workers().then(
        (list) => new Set(list.workers.map((worker) => worker.pid)),
        (error: Error) => {
          this.log.warn(`listing the runtime's workers: ${error.message}; its children from before the agent get no cold-start clock`);
          return null;
        },
      );
      this.profiler.adoptRuntime(info.pid, workers === null ? [] : childrenOf(info.pid).filter((pid) => !workers.has(pid)));
    }
    await Promise.all([this.probeBinary(info.nodeBinary, 'node'), this.probeBinary(info.nodeAddon, 'node-addon')]);
  }

  private onRuntimeEvent(event: RuntimeEvent): void {
    // What the kernel saw happened before the runtime could report it: take that in first.
    this.probes?.drain();
    if (event.type === 'function_prepared') {
      // The runtime holds the binary's first worker until we say its probes are on.
      const attached = event.kind === 'go' ? this.probeBinary(event.binary, 'go') : Promise.resolve();
      void attached
        .then(() => {
          this.syscallDemand.prepared(event.function, this.reportsThroughMarkers(event.kind, event.binary));
          return this.follower?.ack(event.seq);
        })
        .catch((error: unknown) => this.log.warn(`confirming probes on ${event.binary} to the runtime: ${(error as Error).message}`));
    }
    if (event.type === 'function_removed') this.syscallDemand.removed(event.function);
    this.tracker.runtime(event);
    this.profiler?.runtime(event);
  }

  /** Whether a function's workers report state mapped and ready through SDK markers the agent has probed. */
  private reportsThroughMarkers(kind: 'go' | 'node' | 'exec', binary: string): boolean {
    if (kind === 'exec') return false;
    const probed = kind === 'go' ? binary : this.runtimeInfo?.nodeAddon;
    return probed !== undefined && this.probeStatus.get(probed)?.sdkMarkers === true;
  }

  private setSyscallHooks(on: boolean, reason: string): void {
    if (this.probes === undefined || !this.attached) return; // not open or detached: they attach as wanted()
    try {
      this.probes.setSyscallHooks(on);
      this.log.info(`syscall hooks ${on ? 'attached' : 'detached'}: ${reason}${on ? ' (every syscall on the host costs ~125 ns more while they are)' : ''}`);
    } catch (error) {
      this.metrics.attachError('syscalls');
      const message = (error as Error).message;
      this.log.warn(on ? `attaching the syscall hooks (${reason}): ${message}; functions without SDK markers get their ready phase from the runtime` : `detaching the syscall hooks (${reason}): ${message}`);
    }
  }

  /** Sampling needs perf events; without them the agent still measures phases, and says why it does not profile. */
  private startProfiler(options: ProfilerOptions): void {
    try {
      this.profiler = new Profiler(this.probes!.tracked, options, this.log.child('profile'), (file) => this.runtimeRoot.path(file));
      this.metrics.profiling(() => this.profiler?.counters(), () => this.profiler?.gcShares(GC_SHARE_WINDOW_S) ?? []);
      const { coldHz, coldEvery, coldMaxPerSecond, steadyHz } = this.profiler.options;
      this.log.info(`sampling workers' CPU: ${coldHz} Hz while they start${coldEvery > 1 ? ` (one start in ${coldEvery})` : ''}, at most ${coldMaxPerSecond} starts a second, ${steadyHz} Hz after`);
    } catch (error) {
      this.profilerError = (error as Error).message;
      this.log.warn(`CPU profiles are off: ${this.profilerError}`);
    }
  }

  /** Plans and attaches a binary's probes once; concurrent calls share the same attempt. */
  private probeBinary(binary: string, kind: PlanKind): Promise<void> {
    if (this.probeStatus.has(binary)) return Promise.resolve();
    let attempt = this.planning.get(binary);
    if (attempt === undefined) {
      attempt = this.plan(binary, kind);
      this.planning.set(binary, attempt);
    }
    return attempt;
  }

  private async plan(binary: string, kind: PlanKind): Promise<void> {
    let status: ProbeStatus;
    try {
      // With the syscall hooks kept on they see both moments; else the SDK's markers report them.
      const plan = await planInWorker(kind, this.runtimeRoot.path(binary), { ...this.options.probes, goSdkMarkers: this.options.syscalls !== 'on' });
      if (this.probes === undefined) return;
      status = statusOf(kind, this.probes.attachPlan(binary, plan));
    } catch (error) {
      status = { binary, kind, attached: [], sdkMarkers: false, missing: [], errors: [(error as Error).message] };
    } finally {
      this.planning.delete(binary);
      releaseFreeHeap();
    }
    this.probeStatus.set(binary, status);
    if (status.errors.length > 0) {
      this.metrics.attachError(kind);
      this.log.warn(`probes on ${binary}: ${status.errors.join('; ')}`);
      const missing = status.errors.some((error) => /EACCES/.test(error)) ? uprobeCapabilityMissing() : undefined;
      if (missing !== undefined && !this.explainedUprobeRefusal) {
        this.explainedUprobeRefusal = true;
        this.log.warn(missing);
      }
    }
    this.log.info(`probes on ${binary} (${kind}): ${status.attached.length} attached${status.missing.length > 0 ? `; not in the binary: ${status.missing.join(', ')}` : ''}`);
  }
}
