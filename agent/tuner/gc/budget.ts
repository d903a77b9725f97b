// Memory and cost arithmetic shared by the Go and Node GC policies.

import type { GcPolicyOptions } from './options.js';

export interface MemoryLimits {
  /** `limits.memoryMb`: the cgroup kills past it. */
  memoryLimitMb: number;
  /** `limits.recycleMemoryMb`: the runtime replaces a worker whose private memory passes it; 0 = never. */
  recycleMemoryMb: number;
}

export interface GcBudget {
  /** The most a worker should ever hold, MiB: the lower of the ceiling share of the limit and the recycle threshold. */
  ceilingMb: number;
  /** What the collector may plan to fill, MiB: the ceiling less headroom, less a step per OOM kill, less memory that is not the heap's. */
  budgetMb: number;
}

export function gcBudget(limits: MemoryLimits, outsideMb: number, oomLevel: number, options: GcPolicyOptions): GcBudget {
  const byLimit = limits.memoryLimitMb * options.ceilingShare;
  const ceilingMb = limits.recycleMemoryMb > 0 ? Math.min(byLimit, limits.recycleMemoryMb) : byLimit;
  const share = Math.max(0.3, 1 - options.headroom - options.oomStep * oomLevel);
  return { ceilingMb, budgetMb: Math.max(0, ceilingMb * share - Math.max(0, outsideMb)) };
}

/**
 * How many times the collector's work must shrink to take its share of CPU from `share` to
 * `target` while the program's other work stays: the GC costs s/(1-s) of the rest now and
 * must cost t/(1-t). Both Go's GOGC ("doubling GOGC roughly halves GC CPU cost", the Go GC
 * guide) and V8's semi-space (twice the space, half the scavenges) act on that cost about
 * inversely.
 */
export function workReduction(share: number, target: number): number {
  const now = share / (1 - Math.min(share, 0.99));
  const wanted = target / (1 - target);
  return now / wanted;
}

/** The share the collector would have after its work shrank `times` times. */
export function shareAfter(share: number, times: number): number {
  const cost = share / (1 - Math.min(share, 0.99)) / times;
  return cost / (1 + cost);
}

/** Whether moving from `current` to `next` is worth a change: by more than `tolerance` of `current`. */
export function moves(current: number, next: number, tolerance: number): boolean {
  return Math.abs(next - current) > tolerance * Math.abs(current);
}

export function mib(bytes: number): number {
  return bytes / 1048576;
}
