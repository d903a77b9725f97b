// Go: GOGC from the GC's share of CPU and the room the live heap leaves under the memory
// limit; GOMEMLIMIT with headroom below the limit (POLICY.md, "GC"). Pure: no clock, no I/O.

import type { GcSettings } from '../gc-advice.js';
import { percent, round } from '../format.js';
import { gcBudget, moves, shareAfter, workReduction, type MemoryLimits } from './budget.js';
import type { PolicyState } from './guard.js';
import type { GcPolicyOptions } from './options.js';

export interface GoInputs extends MemoryLimits {
  /** GOGC in force (-1: off). */
  gogc: number;
  /** GOMEMLIMIT in force, MiB; null when there is none. */
  gcMemoryLimitMb: number | null;
  /** Heap marked live by the last cycle, and the roots scanned with it (the largest of any worker), MiB. */
  liveHeapMb: number;
  rootsMb: number;
  /** Private memory the Go runtime does not hold (the largest of any worker), MiB. */
  outsideMb: number;
  /** The GC's share of the function's CPU, 0..1; null when too little was measured. */
  gcShare: number | null;
  shareSource: 'profile' | 'sdk' | 'none';
}

export interface GoVerdict {
  /** The settings to apply, or undefined to leave them. */
  settings?: Required<Pick<GcSettings, 'gogc' | 'memoryLimitMb'>>;
  /** Why, in one sentence: the advice's reason, or why nothing changes. */
  reason: string;
  figures: Record<string, number>;
}

/** After an OOM kill GOGC halves whatever the share says; while raises are held it only falls. */
export function adviseGo(inputs: GoInputs, state: PolicyState, options: GcPolicyOptions): GoVerdict {
  const { ceilingMb, budgetMb } = gcBudget(inputs, inputs.outsideMb, state.oomLevel, options);
  const limitMb = Math.floor(budgetMb);
  const heapBaseMb = Math.max(inputs.liveHeapMb + inputs.rootsMb, 1);
  // GOGC whose heap goal, live + (live + roots) * GOGC/100, stays within the fill share of GOMEMLIMIT.
  const roomGogc = Math.floor(((options.goHeapFill * limitMb - inputs.liveHeapMb) / heapBaseMb) * 100);
  const current = inputs.gogc < 0 ? options.gogcMax : inputs.gogc;
  const figures = { ceilingMb: round(ceilingMb), gcLimitMb: limitMb, roomGogc, heapBaseMb: round(heapBaseMb) };
  const heap = `${round(inputs.liveHeapMb)} MiB live heap`;
  const limitText = `GOMEMLIMIT ${limitMb} MiB (${options.headroom * 100}% below the ${round(ceilingMb)} MiB ceiling of the ${inputs.memoryLimitMb} MiB limit${state.oomLevel > 0 ? `, less ${state.oomLevel} OOM step${state.oomLevel > 1 ? 's' : ''}` : ''})`;
  if (limitMb < 8 || roomGogc < options.gogcMin) {
    const gogc = clampGogc(Math.min(current, roomGogc), options);
    const settings = { gogc, memoryLimitMb: Math.max(limitMb, 8) };
    if (gogc === current && inputs.gcMemoryLimitMb === settings.memoryLimitMb) return { reason: `the ${heap} leaves no room under the ${inputs.memoryLimitMb} MiB limit; raise limits.memoryMb`, figures };
    return { settings, reason: `the ${heap} leaves no room under the ${inputs.memoryLimitMb} MiB limit: GOGC ${current} → ${gogc} and ${limitText}; raise limits.memoryMb`, figures };
  }

  let gogc = current;
  let why: string;
  if (state.afterOom) {
    gogc = clampGogc(Math.min(Math.floor(current / 2), roomGogc), options);
    why = `a worker was OOM-killed: GOGC ${current} → ${gogc}`;
  } else if (current > roomGogc * (1 + options.tolerance)) {
    gogc = clampGogc(roomGogc, options);
    why = `the ${heap} grew: GOGC ${current} would let the heap pass ${percent(options.goHeapFill)} of GOMEMLIMIT, so GOGC → ${gogc}`;
  } else if (inputs.gcShare !== null && inputs.gcShare > options.goRaiseAbove && state.mayRaise) {
    const wanted = Math.round(current * workReduction(inputs.gcShare, options.goTargetShare));
    const next = clampGogc(Math.min(wanted, roomGogc), options);
    if (next > current && moves(current, next, options.tolerance)) {
      gogc = next;
      const expected = shareAfter(inputs.gcShare, next / current);
      const capped = next < wanted ? `; ${percent(options.goTargetShare)} would need GOGC ${wanted}, past the memory room` : '';
      why = `GC took ${percent(inputs.gcShare)} of CPU (${inputs.shareSource}) with a ${heap}: GOGC ${current} → ${next} (expected ${percent(expected)}${capped})`;
    } else {
      why = `GC took ${percent(inputs.gcShare)} of CPU (${inputs.shareSource}) but the ${heap} leaves room for GOGC ${next} at most, too close to ${current} to change`;
    }
  } else if (inputs.gcShare === null) {
    // Measure before anything else changes: advice comes whole, with the share it answers.
    return { reason: 'the GC share is not measured yet', figures };
  } else {
    why = `GC took ${percent(inputs.gcShare)} of CPU (${inputs.shareSource})${state.mayRaise ? `, not above ${percent(options.goRaiseAbove)}` : ' and raises are held after an OOM kill or a refused change'}`;
  }

  const limitUnsafe = inputs.gcMemoryLimitMb === null || inputs.gcMemoryLimitMb > limitMb * 1.05;
  const limitLow = inputs.gcMemoryLimitMb !== null && inputs.gcMemoryLimitMb < limitMb * (1 - options.tolerance);
  if (gogc === current && !limitUnsafe && !limitLow && !state.afterOom) return { reason: `${why}; settings stay`, figures };
  const limitWhy =
    inputs.gcMemoryLimitMb === null
      ? `GOMEMLIMIT (none) → ${limitText}, so the collector works harder before the cgroup kills`
      : inputs.gcMemoryLimitMb === limitMb
        ? limitText
        : `GOMEMLIMIT ${round(inputs.gcMemoryLimitMb)} → ${limitText}`;
  return { settings: { gogc, memoryLimitMb: limitMb }, reason: `${why}; ${limitWhy}.`, figures };
}

function clampGogc(value: number, options: GcPolicyOptions): number {
  return Math.max(options.gogcMin, Math.min(options.gogcMax, Math.floor(value)));
}
