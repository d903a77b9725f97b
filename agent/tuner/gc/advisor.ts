// The GC advisor the live tuner asks about once a minute per function (gc-advice.ts): it
// reads the function's workers through the runtime (GET /v1/functions/NAME/stats) and the
// GC's share of CPU from the agent's steady-state profile, or from the SDKs' own figures
// when the profile has too few samples, and answers with the Go or Node policy's advice.

import type { FunctionStats } from '../../../shared/api.js';
import type { Logger } from '../../../shared/log.js';
import type { GcShare } from '../../profile/gc-share.js';
import type { GcAdvice, GcAdvisor, GcSettings, TunedFunction } from '../gc-advice.js';
import { round } from '../format.js';
import { adviseGo, type GoInputs, type GoVerdict } from './go-policy.js';
import { GcGuard, type PolicyState } from './guard.js';
import { goInputs, nodeInputs, type Reading } from './inputs.js';
import { adviseNode, type NodeInputs, type NodeVerdict } from './node-policy.js';
import { DEFAULT_GC_OPTIONS, type GcPolicyOptions } from './options.js';

/** Where the advisor reads a function's workers: the agent's RuntimeClient. */
export interface FunctionStatsSource {
  functionStats(name: string): Promise<FunctionStats>;
}

/** The GC's share of `fn`'s CPU over the last `seconds` of the steady-state profile; undefined when the function is not profiled. */
export type GcShareSource = (fn: string, seconds: number) => GcShare | undefined;

export interface GcAdvisorDeps {
  runtime: FunctionStatsSource;
  /** The agent's profiler (`gcShareFromProfiler`); without it, the SDKs' own figures. */
  gcShare?: GcShareSource;
  options?: Partial<GcPolicyOptions>;
  log?: Logger;
}

/** A GcShareSource over the agent's profiler, for `createGcAdvisor`. */
export function gcShareFromProfiler(profiler: () => { gcShares(seconds: number): GcShare[] } | undefined): GcShareSource {
  return (fn, seconds) => profiler()?.gcShares(seconds).find((share) => share.function === fn);
}

export function createGcAdvisor(deps: GcAdvisorDeps): GcAdvisor {
  return new HearthGcAdvisor(deps);
}

interface FunctionMemory {
  guard: GcGuard;
  last: Reading | undefined;
  /** OOM kills not yet answered with advice: a look that finds no worker to read leaves them for the next. */
  unansweredOomKills: number;
}

export class HearthGcAdvisor implements GcAdvisor {
  private readonly options: GcPolicyOptions;
  private readonly functions = new Map<string, FunctionMemory>();

  constructor(private readonly deps: GcAdvisorDeps) {
    this.options = { ...DEFAULT_GC_OPTIONS, ...deps.options };
  }

  async advise(fn: TunedFunction, now: number): Promise<GcAdvice | undefined> {
    if (fn.kind === 'exec') return undefined;
    let memory = this.functions.get(fn.name);
    if (memory === undefined) {
      memory = { guard: new GcGuard(this.options), last: undefined, unansweredOomKills: 0 };
      this.functions.set(fn.name, memory);
    }
    const stats = await this.deps.runtime.functionStats(fn.name);
    const { guard } = memory;
    const { newOomKills, changed } = guard.observe(fn.gc, stats.oomKills, now);
    // Figures from before a change do not describe the settings in force.
    const before = memory.last !== undefined && memory.last.at >= guard.changedAt && !changed ? memory.last : undefined;
    memory.last = { stats, at: now };
    memory.unansweredOomKills += newOomKills;
    const afterOom = memory.unansweredOomKills > 0;
    const cooling = guard.cooling(now);
    if (cooling !== undefined && !afterOom) return this.hold(fn, cooling);

    const windowMs = Math.min(this.options.shareWindowMs, now - guard.changedAt);
    // A window shorter than half the usual one says too little; the SDK's figures stand in.
    const profile = windowMs >= this.options.shareWindowMs / 2 ? this.deps.gcShare?.(fn.name, windowMs / 1000) : undefined;
    const held = guard.raiseHeld(now);
    const state = { oomLevel: guard.oomLevel, afterOom, mayRaise: held === undefined };
    const { verdict, inputs: measured, figures } = this.decide(fn.kind, stats, before, profile, state);
    if (figures['workers'] === 0) return this.hold(fn, 'no worker answered');
    if (verdict.settings === undefined) return this.hold(fn, held === undefined ? verdict.reason : `${verdict.reason} (${held})`);
    const settings: GcSettings = verdict.settings;
    guard.gave(settings);
    const inputs: GcAdvice['inputs'] = { oomKills: stats.oomKills, newOomKills: memory.unansweredOomKills, oomLevel: guard.oomLevel };
    memory.unansweredOomKills = 0;
    for (const [key, value] of Object.entries({ ...measured, ...figures, ...verdict.figures })) {
      if (value !== null) inputs[key] = typeof value === 'number' ? round(value) : value;
    }
    return { settings, reason: verdict.reason, inputs };
  }

  private decide(kind: 'go' | 'node', stats: FunctionStats, before: Reading | undefined, profile: GcShare | undefined, state: PolicyState): { verdict: GoVerdict | NodeVerdict; inputs: GoInputs | NodeInputs; figures: Record<string, number> } {
    if (kind === 'go') {
      const { inputs, figures } = goInputs(stats, before, profile, this.options);
      return { verdict: adviseGo(inputs, state, this.options), inputs, figures };
    }
    const { inputs, figures } = nodeInputs(stats, before, profile, this.options);
    return { verdict: adviseNode(inputs, state, this.options), inputs, figures };
  }

  private hold(fn: TunedFunction, why: string): undefined {
    this.deps.log?.debug(`gc ${fn.name}: no change: ${why}`);
    return undefined;
  }
}
