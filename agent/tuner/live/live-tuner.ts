// The live tuner: runs a pool policy (hearth's by default) against the runtime the agent
// follows, and applies the GC advisor's advice (agent/tuner/gc/). It feeds the policy
// every invocation from the runtime's event log (arrivals, ends), the agent's measured
// cold-start phases and each worker's private memory (profiles); asks it for a decision after
// each batch of events and once a (trace) minute; applies what changed with PATCH
// /v1/functions/NAME, pre-warms on time; watches latency and errors after each change and
// rolls back on a regression; and logs every decision with its inputs, reason and outcome.
// In dry-run mode it only recommends. The policy clock is CLOCK_MONOTONIC in ms, the clock
// of the runtime's event timestamps.

import type client from 'prom-client';
import type { FunctionSummary, WorkerSummary } from '../../../shared/api.js';
import type { RuntimeEvent } from '../../../shared/events.js';
import type { Logger } from '../../../shared/log.js';
import type { Phase } from '../../../shared/phases.js';
import type { FunctionPatch, Follower, RuntimeClient } from '../../runtime-client.js';
import { formatDuration } from '../format.js';
import type { GcAdvisor, GcSettings } from '../gc-advice.js';
import { createPolicy, type PolicyName } from '../policies/by-name.js';
import type { HearthOptions } from '../policies/hearth.js';
import { coldStartTotalMs, decisionChanged, type FunctionProfile, type PoolDecision, type PoolEvent, type PoolPolicy } from '../policies/policy.js';
import { median, RecentValues } from '../stats.js';
import { DecisionLog, type NewDecision, type SettingValues, type TunerDecision } from './decision-log.js';
import { InvocationFeed } from './invocation-feed.js';
import { TunerMetrics, type TunerMode } from './metrics.js';
import { PoolApplier } from './pool-applier.js';
import { decisionValues, poolAt, type RuntimePool, samePool } from './pool-settings.js';
import { DEFAULT_WATCH, RegressionWatcher, type Verdict, type WatchOptions } from './regression-watcher.js';

export interface LiveTunerOptions {
  mode: TunerMode;
  policy: PolicyName;
  /** Trace time per clock time: 1 live; a replay c times faster than its trace passes c, and the policy's windows, the tick, the watch and the GC hold shrink by it. */
  compression: number;
  /** Prices of the hearth policy (POLICY.md); its defaults otherwise. */
  prices: Pick<HearthOptions, 'latencyPricePerMs' | 'memoryPricePerMbSecond' | 'coreAsMb'>;
  /** Every function is decided on at least this often (trace ms). */
  tickMs: number;
  /** Cold-start phases and worker memory are read again this often (ms). */
  profileEveryMs: number;
  /** The GC advisor is asked this often per function (ms). */
  gcEveryMs: number;
  /** After a GC rollback, no advice is taken for this long (trace ms). */
  gcHoldMs: number;
  /** Before/after comparison of each change (trace ms). */
  watch: WatchOptions;
  /** The runtime sends its events at most this often (trace ms; never more often than every MIN_BATCH_MS). */
  batchMs: number;
}

/** The shortest batch asked of the runtime, however compressed the clock. */
export const MIN_BATCH_MS = 5;

/** How often the runtime sends the tuner its events, ms: the policy decides once per batch. */
export function eventBatchMs(options: Pick<LiveTunerOptions, 'batchMs' | 'compression'>): number {
  return Math.max(MIN_BATCH_MS, Math.round(options.batchMs / options.compression));
}

export const DEFAULT_TUNER_OPTIONS: LiveTunerOptions = {
  mode: 'on',
  policy: 'hearth',
  compression: 1,
  prices: {},
  tickMs: 60_000,
  profileEveryMs: 60_000,
  gcEveryMs: 60_000,
  gcHoldMs: 30 * 60_000,
  watch: DEFAULT_WATCH,
  batchMs: 100,
};

export interface LiveTunerDeps {
  runtime: RuntimeClient;
  /** The agent's measured cold-start phases of a function (median ms each), when it has seen one. */
  coldStartPhases(fn: string): Partial<Record<Phase, number>> | undefined;
  registry: client.Registry;
  log: Logger;
  gcAdvisor?: GcAdvisor;
}

/** Until a function's cold start is measured: what hearth's policy assumes too. */
const ASSUMED_COLD_START_MS = 100;
/** The runtime's own spawn-to-ready times kept per function, for a cold-start cost before the agent has one. */
const READY_SAMPLES = 20;
/** After a function's first worker is ready, its profile is read this much later (the agent has settled the cold start's record by then). */
const FIRST_PROFILE_DELAY_MS = 500;

export interface FunctionProfileView {
  coldStartMs: number;
  /** agent: the agent's phases; runtime: the runtime's spawn-to-ready; assumed: nothing measured yet. */
  coldStartSource: 'agent' | 'runtime' | 'assumed';
  memoryMb: number;
  /** measured: PSS without the state of its workers; limit: its memory limit, until a worker is measured. */
  memorySource: 'measured' | 'limit';
}

export interface FunctionTunerStatus {
  function: string;
  kind: FunctionSummary['kind'];
  /** The function's own pool settings (its manifest's, or as deployed): the tuner's starting point and bounds. */
  configured: RuntimePool;
  /** What the runtime has now, as the tuner last read or applied it. */
  inForce: RuntimePool | null;
  /** The policy's latest decision. */
  recommended: (RuntimePool & { prewarm?: { workers: number; inMs: number; forMs: number } }) | null;
  reason: string | null;
  gc: GcSettings;
  /** GC advice is not taken until then (ms from now), after a rollback. */
  gcHeldForMs: number | null;
  profile: FunctionProfileView;
  /** A change being watched for regressions: since how long (ms), the verdict due in (ms, at the earliest), what changed, the requests seen before and after it. */
  watching: { forMs: number; verdictInMs: number; settings: string[]; requestsBefore: number; requestsAfter: number } | null;
  lastVerdict: { agoMs: number; regressed: boolean; detail: string } | null;
}

export interface TunerStatus {
  mode: TunerMode;
  policy: string;
  compression: number;
  gcAdvisor: boolean;
  decisions: number;
  eventsLost: number;
  following: boolean;
  functions: FunctionTunerStatus[];
}

interface Tuned {
  name: string;
  kind: FunctionSummary['kind'];
  configured: RuntimePool;
  timeoutMs: number;
  memoryLimitMb: number;
  /** The GC settings in force, and those before the last advice applied (for a rollback). */
  gc: GcSettings;
  gcBefore: GcSettings | undefined;
  gcHeldUntil: number;
  gcAsking: boolean;
  profile: FunctionProfileView;
  phases: Partial<Record<Phase, number>>;
  readyMs: RecentValues;
  /** The decision followed (in dry-run: recommended). */
  last: PoolDecision | undefined;
  /** Set while deciding right after a regression: the decision is its rollback. */
  rollback: string | undefined;
  lastVerdict: { at: number; verdict: Verdict } | undefined;
}

export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export class LiveTuner {
  readonly decisions = new DecisionLog();
  private readonly options: LiveTunerOptions;
  private readonly policy: PoolPolicy;
  private readonly functions = new Map<string, Tuned>();
  private readonly feed = new InvocationFeed();
  private readonly watcher: RegressionWatcher;
  private readonly applier: PoolApplier;
  private readonly metrics: TunerMetrics;
  private mode: TunerMode;
  private follower: Follower | undefined;
  private following = false;
  private pending: RuntimeEvent[] = [];
  private flushing = false;
  private timers: NodeJS.Timeout[] = [];
  private profiling: Promise<void> | undefined;
  /** A profile read due soon (a function's first worker has started). */
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Following the runtime (from the first start in a mode other than off). */
  private beginning: Promise<void> | undefined;

  constructor(
    options: Partial<LiveTunerOptions>,
    private readonly deps: LiveTunerDeps,
  ) {
    this.options = { ...DEFAULT_TUNER_OPTIONS, ...options };
    const { compression } = this.options;
    if (!(compression > 0)) throw new RangeError(`tuner: compression must be positive; got ${compression}`);
    this.mode = this.options.mode;
    this.policy = createPolicy(this.options.policy, { compression, hearth: this.options.prices });
    const watch = this.options.watch;
    this.watcher = new RegressionWatcher({ ...watch, windowMs: watch.windowMs / compression, maxWaitMs: watch.maxWaitMs / compression });
    this.applier = new PoolApplier({
      patch: async (fn, pool) => (await this.configure(fn, { pool })).pool,
      now: monotonicMs,
      failed: (fn, error) => {
        this.metrics.failure(fn, 'pool');
        this.deps.log.warn(`${fn}: a pre-warm's change of the pool was not applied: ${error.message}`);
      },
    });
    this.metrics = new TunerMetrics(deps.registry, {
      mode: () => this.mode,
      pools: () => [...this.functions.values()].map((tuned) => ({ function: tuned.name, ...poolGauges(this.applier.current(tuned.name), tuned.last) })),
      eventsLost: () => this.feed.lost,
    });
    this.decisions.subscribe((decision) => this.metrics.decision(decision));
  }

  get policyName(): string {
    return this.policy.name;
  }

  /**
   * Learns the runtime's functions and follows its events from `since` (the runtime's last
   * event when the agent connected). Off, it does nothing until switched on.
   */
  async start(since: number): Promise<void> {
    if (this.mode !== 'off') await this.begin(since);
  }

  private begin(since: number): Promise<void> {
    this.beginning ??= this.follow(since).catch((error: unknown) => {
      this.beginning = undefined;
      throw error;
    });
    return this.beginning;
  }

  private async follow(since: number): Promise<void> {
    const o = this.options;
    for (const fn of await this.deps.runtime.functions()) this.adopt(fn);
    await this.refreshProfiles();
    const now = monotonicMs();
    for (const tuned of this.functions.values()) this.decide(tuned, now);
    this.follower = this.deps.runtime.follow(
      { since, batchMs: eventBatchMs(o), hold: false, invocations: 'all' },
      (event) => this.enqueue(event),
      (connected, error) => {
        this.following = connected;
        if (!connected) this.deps.log.warn(`lost the runtime's event stream (${error ?? 'closed'}); reconnecting`);
      },
    );
    const every = (ms: number, work: () => void): void => {
      const timer = setInterval(work, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(o.tickMs / o.compression, () => this.tick());
    every(o.profileEveryMs, () => void this.refreshProfiles());
    if (this.deps.gcAdvisor !== undefined) every(o.gcEveryMs, () => this.adviseGc());
    this.deps.log.info(`${this.mode}: ${this.policy.name} policy${o.compression === 1 ? '' : `, time compressed ${o.compression}×`}${this.deps.gcAdvisor === undefined ? '' : ', with GC advice'}; ${this.functions.size} functions`);
  }

  stop(): void {
    this.stopped = true;
    this.follower?.stop();
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.soon);
    this.applier.close();
  }

  /**
   * Switches mode. Leaving `on` gives every function back its own settings (the tuner no
   * longer maintains its own, so none is left behind); entering `on` applies the current
   * recommendations. Either way the changes are logged.
   */
  async setMode(mode: TunerMode): Promise<void> {
    if (mode === this.mode) return;
    if (this.beginning === undefined) {
      // Off since the start: nothing to give back; learn the functions and follow from now.
      const { lastEventSeq } = await this.deps.runtime.info();
      this.mode = mode;
      return this.begin(lastEventSeq);
    }
    const was = this.mode;
    this.mode = mode;
    this.deps.log.info(`mode: ${was} → ${mode}`);
    const now = monotonicMs();
    const work = [...this.functions.values()].map(async (tuned) => {
      if (was === 'on') return this.restore(tuned, now, `tuner mode set to ${mode}: the function's own settings are back`);
      tuned.last = undefined;
      this.decide(tuned, now);
    });
    await Promise.all(work);
  }

  get currentMode(): TunerMode {
    return this.mode;
  }

  status(): TunerStatus {
    const now = monotonicMs();
    return {
      mode: this.mode,
      policy: this.policy.name,
      compression: this.options.compression,
      gcAdvisor: this.deps.gcAdvisor !== undefined,
      decisions: this.decisions.lastSeq,
      eventsLost: this.feed.lost,
      following: this.following,
      functions: [...this.functions.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((tuned): FunctionTunerStatus => {
          const watching = this.watcher.watching(tuned.name);
          const last = tuned.last;
          return {
            function: tuned.name,
            kind: tuned.kind,
            configured: tuned.configured,
            inForce: this.applier.current(tuned.name) ?? null,
            recommended: last === undefined ? null : { ...poolAt(last, -Infinity), ...(last.prewarm === undefined ? {} : { prewarm: { workers: last.prewarm.workers, inMs: Math.round(last.prewarm.atMs - now), forMs: Math.round(last.prewarm.untilMs - last.prewarm.atMs) } }) },
            reason: last?.reason ?? null,
            gc: tuned.gc,
            gcHeldForMs: tuned.gcHeldUntil > now ? Math.round(tuned.gcHeldUntil - now) : null,
            profile: tuned.profile,
            watching:
              watching === undefined
                ? null
                : { forMs: Math.round(now - watching.since), verdictInMs: Math.max(0, Math.round(watching.until - now)), settings: watching.settings, requestsBefore: watching.requestsBefore, requestsAfter: watching.requestsAfter },
            lastVerdict: tuned.lastVerdict === undefined ? null : { agoMs: Math.round(now - tuned.lastVerdict.at), regressed: tuned.lastVerdict.verdict.regressed, detail: tuned.lastVerdict.verdict.detail },
          };
        }),
    };
  }

  // ---- events ----

  private enqueue(event: RuntimeEvent): void {
    this.pending.push(event);
    if (this.flushing) return;
    this.flushing = true;
    // Every event of one write from the runtime goes to the policy together, sorted.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushing = false;
    const events = this.pending;
    this.pending = [];
    if (this.stopped) return;
    for (const event of events) this.lifecycle(event);
    const batch = this.feed.take(events);
    this.watcher.record(batch.outcomes);
    this.observeAll(batch.events);
  }

  private observeAll(events: Map<string, PoolEvent[]>): void {
    const now = monotonicMs();
    for (const [fn, list] of events) {
      for (const event of list) this.policy.observe(event);
      const tuned = this.functions.get(fn);
      if (tuned !== undefined) this.decide(tuned, now);
    }
  }

  /** Deploys, removals and first workers: what the tuner knows of each function. */
  private lifecycle(event: RuntimeEvent): void {
    switch (event.type) {
      case 'function_deployed':
        this.deps.runtime.function(event.function).then(
          (fn) => this.redeployed(fn),
          (error: Error) => this.deps.log.warn(`reading function ${event.function} after its deploy: ${error.message}`),
        );
        break;
      case 'function_removed':
        this.functions.delete(event.function);
        this.applier.forget(event.function);
        this.watcher.forget(event.function);
        break;
      case 'worker_ready': {
        const tuned = this.functions.get(event.function);
        if (tuned === undefined) break;
        tuned.readyMs.push(event.spawnToReadyMs);
        // A function's first worker: measure it soon rather than at the next refresh (the agent settles its record first).
        if (this.soon === undefined && (tuned.profile.memorySource !== 'measured' || tuned.profile.coldStartSource !== 'agent')) {
          this.soon = setTimeout(() => {
            this.soon = undefined;
            if (!this.stopped) void this.refreshProfiles();
          }, FIRST_PROFILE_DELAY_MS);
          this.soon.unref();
        }
        break;
      }
      default:
        break;
    }
  }

  /** A new function, or a new version of one (its pool settings are the new version's own again). */
  private redeployed(fn: FunctionSummary): void {
    const tuned = this.functions.get(fn.name);
    if (tuned === undefined) {
      this.adopt(fn);
      void this.refreshProfiles().then(() => {
        const adopted = this.functions.get(fn.name);
        if (adopted !== undefined) this.decide(adopted, monotonicMs());
      });
      return;
    }
    const pool = runtimePool(fn.pool);
    tuned.configured = pool;
    this.applier.inForce(fn.name, pool);
    // Our own GC change of a Node function rolls a new version with the same GC settings; anything else is the operator's.
    if (!sameGc(fn.gc, tuned.gc)) {
      tuned.gc = { ...fn.gc };
      tuned.gcBefore = undefined;
    }
    if (this.mode === 'on' && tuned.last !== undefined) {
      this.applier.follow(fn.name, tuned.last).catch((error: Error) => this.deps.log.warn(`${fn.name}: re-applying the tuner's pool settings after a deploy: ${error.message}`));
    }
  }

  private adopt(fn: FunctionSummary): void {
    if (this.functions.has(fn.name)) return;
    const pool = runtimePool(fn.pool);
    this.functions.set(fn.name, {
      name: fn.name,
      kind: fn.kind,
      configured: pool,
      timeoutMs: fn.limits.timeoutMs,
      memoryLimitMb: fn.limits.memoryMb,
      gc: { ...fn.gc },
      gcBefore: undefined,
      gcHeldUntil: -Infinity,
      gcAsking: false,
      profile: { coldStartMs: ASSUMED_COLD_START_MS, coldStartSource: 'assumed', memoryMb: fn.limits.memoryMb, memorySource: 'limit' },
      phases: { ready: ASSUMED_COLD_START_MS },
      readyMs: new RecentValues(READY_SAMPLES),
      last: undefined,
      rollback: undefined,
      lastVerdict: undefined,
    });
    this.applier.inForce(fn.name, pool);
  }

  // ---- the periodic work ----

  private tick(): void {
    if (this.stopped) return;
    const now = monotonicMs();
    this.observeAll(this.feed.sweep(now, (fn) => (this.functions.get(fn)?.timeoutMs ?? 30_000) + 1000));
    for (const verdict of this.watcher.check(now)) this.judged(verdict, now);
    for (const tuned of this.functions.values()) this.decide(tuned, now);
  }

  /** A watched change has its verdict: a regression rolls back what changed (the policy's guard for the pool, the previous values for GC). */
  private judged(verdict: Verdict, now: number): void {
    const tuned = this.functions.get(verdict.function);
    if (tuned === undefined) return;
    tuned.lastVerdict = { at: now, verdict };
    if (!verdict.regressed) return;
    this.deps.log.warn(`${verdict.function}: ${verdict.detail}; rolling back`);
    if (verdict.settings.includes('pool')) {
      this.policy.observe({ kind: 'regression', function: verdict.function, at: now, detail: verdict.detail });
      tuned.rollback = verdict.detail;
      this.decide(tuned, now);
      tuned.rollback = undefined;
    }
    if (verdict.settings.includes('gc')) void this.rollbackGc(tuned, now, verdict.detail);
  }

  /** Reads each function's measured cold start (the agent's phases) and its workers' private memory, and tells the policy. */
  private refreshProfiles(): Promise<void> {
    this.profiling ??= this.readProfiles().finally(() => {
      this.profiling = undefined;
    });
    return this.profiling;
  }

  private async readProfiles(): Promise<void> {
    let workers: WorkerSummary[] = [];
    try {
      workers = (await this.deps.runtime.workers(undefined, { memory: true })).workers;
    } catch (error) {
      this.deps.log.warn(`reading the workers' memory: ${(error as Error).message}`);
    }
    const now = monotonicMs();
    for (const tuned of this.functions.values()) {
      this.measure(tuned, workers.filter((worker) => worker.function === tuned.name));
      const profile: FunctionProfile = { coldStartMs: tuned.phases, memoryMb: tuned.profile.memoryMb, maxWorkers: tuned.configured.max };
      this.policy.observe({ kind: 'profile', function: tuned.name, at: now, profile });
    }
  }

  private measure(tuned: Tuned, workers: WorkerSummary[]): void {
    const idle = workers.filter((worker) => worker.status === 'idle' && worker.privateMemoryMb !== undefined);
    const measured = (idle.length > 0 ? idle : workers).flatMap((worker) => (worker.privateMemoryMb === undefined ? [] : [worker.privateMemoryMb]));
    if (measured.length > 0) tuned.profile = { ...tuned.profile, memoryMb: median(measured), memorySource: 'measured' };
    const agent = this.deps.coldStartPhases(tuned.name);
    if (agent !== undefined && coldStartTotalMs(agent) > 0) {
      tuned.phases = agent;
      tuned.profile = { ...tuned.profile, coldStartMs: coldStartTotalMs(agent), coldStartSource: 'agent' };
    } else {
      // The runtime's own measure until the agent has one: the starts it has seen, else those of the workers alive now.
      const seen = tuned.readyMs.all.length > 0 ? tuned.readyMs.all : workers.flatMap((worker) => (worker.spawnToReadyMs === null ? [] : [worker.spawnToReadyMs]));
      if (seen.length === 0) return;
      const ready = median(seen);
      tuned.phases = { ready };
      tuned.profile = { ...tuned.profile, coldStartMs: ready, coldStartSource: 'runtime' };
    }
  }

  // ---- pool decisions ----

  private decide(tuned: Tuned, now: number): void {
    if (this.mode === 'off') return;
    const decision = this.policy.decide(tuned.name, now);
    const previous = tuned.last ?? configuredDecision(tuned, now);
    if (!decisionChanged(previous, decision, { wholeMs: true })) return;
    tuned.last = decision;
    const entry: NewDecision = {
      atMs: now,
      function: tuned.name,
      kind: 'pool',
      by: this.policy.name,
      before: decisionValues(previous),
      after: decisionValues(decision),
      reason: decision.reason,
      inputs: decision.inputs,
      outcome: 'recommended',
    };
    if (this.mode === 'dry-run') {
      this.decisions.add(entry);
      return;
    }
    const rollback = tuned.rollback;
    const poolChanged = decisionChanged(previous, decision, { wholeMs: true, prewarm: false });
    this.applier.follow(tuned.name, decision).then(
      () => {
        this.decisions.add({ ...entry, outcome: rollback === undefined ? 'applied' : 'rolled-back' });
        if (poolChanged && rollback === undefined) this.watcher.changed(tuned.name, 'pool', monotonicMs());
      },
      (error: Error) => {
        this.decisions.add({ ...entry, outcome: 'failed', error: error.message });
        this.deps.log.warn(`${tuned.name}: the runtime did not take the pool settings: ${error.message}`);
      },
    );
  }

  /** Gives a function its own pool and GC settings back (leaving `on`). */
  private async restore(tuned: Tuned, now: number, reason: string): Promise<void> {
    const inForce = this.applier.current(tuned.name) ?? tuned.configured;
    this.applier.forget(tuned.name);
    tuned.last = undefined;
    if (!samePool(inForce, tuned.configured)) {
      await this.record({ atMs: now, function: tuned.name, kind: 'pool', by: 'tuner', before: { ...inForce }, after: { ...tuned.configured }, reason, inputs: {}, outcome: 'applied' }, () => this.configure(tuned.name, { pool: tuned.configured }));
    }
    this.applier.inForce(tuned.name, tuned.configured);
    const own = tuned.gcBefore;
    if (own === undefined) return;
    const before = tuned.gc;
    tuned.gcBefore = undefined;
    const restored = restorable(before, own);
    await this.record({ atMs: now, function: tuned.name, kind: 'gc', by: 'tuner', before: gcValues(before), after: gcValues({ ...before, ...restored }), reason, inputs: {}, outcome: 'applied' }, async () => {
      tuned.gc = (await this.configure(tuned.name, { gc: restored })).gc;
    });
  }

  // ---- GC advice ----

  private adviseGc(): void {
    const advisor = this.deps.gcAdvisor;
    if (advisor === undefined || this.mode === 'off' || this.stopped) return;
    const now = monotonicMs();
    for (const tuned of this.functions.values()) {
      if (tuned.kind === 'exec' || tuned.gcAsking || now < tuned.gcHeldUntil) continue;
      tuned.gcAsking = true;
      advisor
        .advise({ name: tuned.name, kind: tuned.kind, gc: { ...tuned.gc }, memoryLimitMb: tuned.memoryLimitMb }, now)
        .then(
          async (advice) => {
            if (advice === undefined || this.functions.get(tuned.name) !== tuned) return;
            const after = { ...tuned.gc, ...advice.settings };
            if (sameGc(after, tuned.gc)) return;
            const entry: NewDecision = { atMs: monotonicMs(), function: tuned.name, kind: 'gc', by: 'gc-advisor', before: gcValues(tuned.gc), after: gcValues(after), reason: advice.reason, inputs: advice.inputs, outcome: 'recommended' };
            if (this.mode !== 'on') return void this.decisions.add(entry);
            const before = tuned.gc;
            const applied = await this.record({ ...entry, outcome: 'applied' }, async () => {
              tuned.gc = (await this.configure(tuned.name, { gc: advice.settings })).gc;
            });
            if (applied) {
              tuned.gcBefore ??= before;
              this.watcher.changed(tuned.name, 'gc', monotonicMs());
            }
          },
          (error: Error) => this.deps.log.warn(`the GC advisor failed on ${tuned.name}: ${error.message}`),
        )
        .finally(() => {
          tuned.gcAsking = false;
        });
    }
  }

  private async rollbackGc(tuned: Tuned, now: number, detail: string): Promise<void> {
    const own = tuned.gcBefore;
    if (own === undefined) return;
    const { compression, gcHoldMs } = this.options;
    tuned.gcHeldUntil = now + gcHoldMs / compression;
    const before = tuned.gc;
    const restored = restorable(before, own);
    const kept = Object.keys(before).filter((name) => !(name in restored));
    const note = kept.length === 0 ? '' : `; ${kept.join(', ')} had no value before and keeps the advised one (the API cannot unset it)`;
    const reason = `regression: ${detail}; GC settings restored, no advice taken for ${formatDuration(gcHoldMs)}${note}`;
    await this.record({ atMs: now, function: tuned.name, kind: 'gc', by: 'tuner', before: gcValues(before), after: gcValues({ ...before, ...restored }), reason, inputs: {}, outcome: 'rolled-back' }, async () => {
      tuned.gc = (await this.configure(tuned.name, { gc: restored })).gc;
      tuned.gcBefore = undefined;
    });
  }

  // ---- applying ----

  /** Runs `apply` and logs the decision with its outcome; a failure is logged as such. Resolves true when applied. */
  private async record(entry: NewDecision, apply: () => Promise<unknown>): Promise<boolean> {
    try {
      await apply();
      this.decisions.add(entry);
      return true;
    } catch (error) {
      this.decisions.add({ ...entry, outcome: 'failed', error: (error as Error).message });
      this.deps.log.warn(`${entry.function}: the runtime did not take the ${entry.kind} settings: ${(error as Error).message}`);
      return false;
    }
  }

  private configure(fn: string, patch: FunctionPatch): Promise<FunctionSummary> {
    return this.deps.runtime.configure(fn, patch);
  }
}

function runtimePool(pool: FunctionSummary['pool']): RuntimePool {
  return { min: pool.min, max: pool.max, keepAliveMs: pool.keepAliveMs, spare: pool.spare };
}

/** The function's own settings as a decision, to compare the policy's first one with. */
function configuredDecision(tuned: Tuned, now: number): PoolDecision {
  return { function: tuned.name, policy: 'configured', at: now, ...tuned.configured, reason: 'the function\'s own settings', inputs: {} };
}

function sameGc(a: GcSettings, b: GcSettings): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof GcSettings>;
  return [...keys].every((key) => a[key] === b[key]);
}

/** The GC values to send to get back to `own`: those it sets (a field it leaves unset cannot be unset through the API). */
function restorable(current: GcSettings, own: GcSettings): GcSettings {
  const restored: GcSettings = {};
  for (const key of Object.keys(current) as (keyof GcSettings)[]) if (own[key] !== undefined) restored[key] = own[key];
  return restored;
}

function gcValues(gc: GcSettings): SettingValues {
  return Object.fromEntries(Object.entries(gc).filter((entry): entry is [string, number] => entry[1] !== undefined));
}

function poolGauges(inForce: RuntimePool | undefined, last: PoolDecision | undefined): { inForce?: Record<string, number>; recommended?: Record<string, number> } {
  return {
    ...(inForce === undefined ? {} : { inForce: { ...inForce } }),
    ...(last === undefined ? {} : { recommended: { min: last.min, max: last.max, keepAliveMs: Math.round(last.keepAliveMs), spare: last.spare ?? 0, prewarmWorkers: last.prewarm?.workers ?? 0 } }),
  };
}

export type { TunerDecision, TunerMode };
