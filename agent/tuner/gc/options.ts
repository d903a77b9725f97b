// The GC policy's parameters, with why each has its default (POLICY.md, "GC").

export interface GcPolicyOptions {
  /**
   * Share of `limits.memoryMb` the GC may plan to fill: where cgroup v2's memory.high starts
   * reclaiming (90%), and `limits.recycleMemoryMb`'s default. The lower of this and the
   * function's recycle threshold is the ceiling.
   */
  ceilingShare: number;
  /** Left free below the ceiling for the GC's own limit: the Go GC guide's 5-10%. */
  headroom: number;
  /** Each OOM kill in a row lowers the GC's limit by this share of the ceiling. */
  oomStep: number;
  /** After a change, how long before the next (besides waiting for figures measured wholly under it). */
  cooldownMs: number;
  /** Longest window of the steady-state profile the GC share is read over. */
  shareWindowMs: number;
  /** Fewest profile samples that make a share; below it the SDK's own figures are used. */
  minProfileSamples: number;
  /** Least CPU (seconds, over the workers) between two SDK readings that makes a share. */
  minCpuSeconds: number;
  /** A setting that would move by less than this fraction stays as it is. */
  tolerance: number;
  /** Back-off after an OOM kill or a refused advice; doubled when another follows within twice it. */
  backoffMs: number;
  maxBackoffMs: number;

  /** Go: GOGC rises when the GC's share of CPU is above this... */
  goRaiseAbove: number;
  /** ...to the GOGC the cost model expects to bring the share to this. */
  goTargetShare: number;
  /** The GOGC heap goal stays within this share of GOMEMLIMIT: the limit is a backstop, not the target. */
  goHeapFill: number;
  gogcMin: number;
  gogcMax: number;

  /** Node: the semi-space grows when the scavenger's share of CPU is above this... */
  nodeRaiseAbove: number;
  /** ...to the size expected to bring that share to this. */
  nodeTargetShare: number;
  semiSpaceMinMb: number;
  semiSpaceMaxMb: number;
  /** One change grows the semi-space at most this many times. */
  semiSpaceMaxStep: number;
  /** The old space is given at least this many times what the old generation holds. */
  oldSpaceFactor: number;
  /** The young generation (three semi-spaces) takes at most this share of the budget: the old generation keeps room to grow. */
  youngShareMax: number;
}

export const DEFAULT_GC_OPTIONS: GcPolicyOptions = {
  ceilingShare: 0.9,
  headroom: 0.05,
  oomStep: 0.1,
  cooldownMs: 60_000,
  shareWindowMs: 60_000,
  minProfileSamples: 200,
  minCpuSeconds: 1,
  tolerance: 0.25,
  backoffMs: 30 * 60_000,
  maxBackoffMs: 8 * 3_600_000,

  goRaiseAbove: 0.1,
  goTargetShare: 0.05,
  goHeapFill: 0.8,
  gogcMin: 50,
  gogcMax: 1000,

  nodeRaiseAbove: 0.05,
  nodeTargetShare: 0.02,
  semiSpaceMinMb: 1,
  semiSpaceMaxMb: 64,
  semiSpaceMaxStep: 8,
  oldSpaceFactor: 2,
  youngShareMax: 0.5,
};
