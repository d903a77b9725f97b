// Node: V8's semi-space from the scavenger's share of CPU and how much of the young
// generation survives; the old space from the heap in use under the memory limit
// (POLICY.md, "GC"). Pure: no clock, no I/O.

import type { GcSettings } from '../gc-advice.js';
import { percent, round } from '../format.js';
import { gcBudget, moves, workReduction, type MemoryLimits } from './budget.js';
import type { PolicyState } from './guard.js';
import type { GcPolicyOptions } from './options.js';

/** V8's young generation is three semi-spaces (two for copying, one for new large objects' growth). */
const YOUNG_PER_SEMI = 3;
/** V8 refuses, or collects constantly, with less old space than this. */
const MIN_OLD_SPACE_MB = 16;

export interface NodeInputs extends MemoryLimits {
  /** The semi-space in force: the flag, or what the workers run with, MiB. */
  semiSpaceMb: number;
  /** V8's heap limit in force (the largest of any worker), MiB. */
  heapLimitMb: number;
  /** --max-old-space-size in force, or null when V8 chose. */
  oldSpaceFlagMb: number | null;
  /** The old generation in use (the largest of any worker), MiB. */
  oldUsedMb: number;
  /** Resident memory outside V8's heap (the largest of any worker), MiB. */
  outsideMb: number;
  /** All of V8's collectors' share of CPU, and the scavenger's alone, 0..1; null when too little was measured. */
  gcShare: number | null;
  scavengeShare: number | null;
  shareSource: 'profile' | 'sdk' | 'none';
  /** Of the young generation's bytes at scavenges, the share that survived (stayed young or was promoted). */
  survival: number | null;
}

export interface NodeVerdict {
  settings?: Required<Pick<GcSettings, 'maxSemiSpaceMb' | 'maxOldSpaceMb'>>;
  reason: string;
  figures: Record<string, number>;
}

export function adviseNode(inputs: NodeInputs, state: PolicyState, options: GcPolicyOptions): NodeVerdict {
  const { ceilingMb, budgetMb } = gcBudget(inputs, inputs.outsideMb, state.oomLevel, options);
  const oldNeedMb = Math.max(MIN_OLD_SPACE_MB, inputs.oldUsedMb * options.oldSpaceFactor);
  // The largest semi-space that leaves the old generation its share of the budget, and room to grow.
  const roomSemi = powerOfTwoAtMost(Math.min(options.semiSpaceMaxMb, (budgetMb - oldNeedMb) / YOUNG_PER_SEMI, (budgetMb * options.youngShareMax) / YOUNG_PER_SEMI));
  const current = Math.max(options.semiSpaceMinMb, inputs.semiSpaceMb);
  const figures: Record<string, number> = { ceilingMb: round(ceilingMb), budgetMb: round(budgetMb), roomSemiSpaceMb: roomSemi, oldNeedMb: round(oldNeedMb) };

  let semi = current;
  let why: string;
  if (state.afterOom) {
    semi = Math.max(options.semiSpaceMinMb, powerOfTwoAtMost(Math.min(current / 2, roomSemi)));
    why = `a worker was OOM-killed: semi-space ${current} → ${semi} MiB`;
  } else if (current > Math.max(roomSemi, options.semiSpaceMinMb) * (1 + options.tolerance)) {
    semi = Math.max(options.semiSpaceMinMb, roomSemi);
    why = `the old generation (${round(inputs.oldUsedMb)} MiB in use) needs the room: semi-space ${current} → ${semi} MiB`;
  } else if (inputs.scavengeShare !== null && inputs.scavengeShare > options.nodeRaiseAbove && state.mayRaise) {
    const times = Math.min(options.semiSpaceMaxStep, workReduction(inputs.scavengeShare, options.nodeTargetShare));
    const next = Math.max(current, powerOfTwoAtMost(Math.min(current * times, roomSemi)));
    const survived = inputs.survival === null ? '' : `, ${percent(inputs.survival)} of the young generation surviving`;
    if (moves(current, next, options.tolerance)) {
      semi = next;
      const profiled = inputs.shareSource === 'profile' ? `; all GC ${percent(inputs.gcShare ?? 0)} by the profile` : '';
      why = `scavenge pauses took ${percent(inputs.scavengeShare)} of CPU time${profiled}${survived}: semi-space ${current} → ${semi} MiB`;
    } else {
      why = `scavenge pauses took ${percent(inputs.scavengeShare)} of CPU time${survived} but the memory limit leaves room for a ${roomSemi} MiB semi-space at most`;
    }
  } else if (inputs.scavengeShare === null) {
    return { reason: 'the scavenger share is not measured yet', figures };
  } else {
    why = `scavenge pauses took ${percent(inputs.scavengeShare)} of CPU time${state.mayRaise ? `, not above ${percent(options.nodeRaiseAbove)}` : ' and raises are held after an OOM kill or a refused change'}`;
  }

  // The old space takes what the young generation leaves of the budget.
  const old = Math.max(MIN_OLD_SPACE_MB, Math.floor(budgetMb - YOUNG_PER_SEMI * semi));
  const oldInForce = inputs.oldSpaceFlagMb ?? inputs.heapLimitMb;
  const oldUnsafe = oldInForce > old * 1.05;
  const oldLow = oldInForce < old * (1 - options.tolerance);
  figures['oldSpaceMb'] = old;
  if (semi === current && !oldUnsafe && !oldLow && !state.afterOom) return { reason: `${why}; settings stay`, figures };
  const oldWhy =
    semi !== current
      ? `old space ${round(oldInForce)} → ${old} MiB, what the ${round(budgetMb)} MiB budget leaves beside the young generation`
      : oldUnsafe
        ? `old space ${round(oldInForce)} → ${old} MiB, so V8 collects harder before the ${inputs.memoryLimitMb} MiB cgroup limit kills`
        : `old space ${round(oldInForce)} → ${old} MiB, what the ${round(budgetMb)} MiB budget leaves`;
  return { settings: { maxSemiSpaceMb: semi, maxOldSpaceMb: old }, reason: `${why}; ${oldWhy}.`, figures };
}

/** The largest power of two not above `mb` (at least 1). */
function powerOfTwoAtMost(mb: number): number {
  return mb < 1 ? 1 : 2 ** Math.floor(Math.log2(mb));
}
