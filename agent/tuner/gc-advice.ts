// The contract between the GC policy (agent/tuner/gc/) and the live tuner that applies its
// advice (agent/tuner/live/). The live tuner asks about once a minute per function; the
// advisor gathers its own inputs (GC share from the agent's steady-state profile, heap
// figures from the SDKs' `stats` control request through the runtime) and answers with the
// settings the function should have, or nothing to leave it as it is. The live tuner applies
// advice with `PATCH /v1/functions/NAME {"gc": settings}`, logs it as a decision, and rolls
// it back when latency, errors or OOM kills get worse after it.

/** A function's GC settings, as the manifest's `gc` field spells them. */
export interface GcSettings {
  /** Go: GOGC percent. */
  gogc?: number;
  /** Go: GOMEMLIMIT in MiB. */
  memoryLimitMb?: number;
  /** Node: --max-old-space-size in MiB. */
  maxOldSpaceMb?: number;
  /** Node: --max-semi-space-size in MiB. */
  maxSemiSpaceMb?: number;
}

/** What the live tuner knows of a function when it asks. */
export interface TunedFunction {
  name: string;
  kind: 'go' | 'node' | 'exec';
  /** The GC settings in force (the manifest's, or the last applied). */
  gc: GcSettings;
  /** The per-worker memory limit, `limits.memoryMb`. */
  memoryLimitMb: number;
}

export interface GcAdvice {
  settings: GcSettings;
  /** One sentence an operator can read in the decision log: what and why. */
  reason: string;
  /** The numbers the advice was computed from. */
  inputs: Record<string, number | string | boolean>;
}

export interface GcAdvisor {
  /** The GC settings `fn` should have now, or undefined to leave them; `now` is CLOCK_MONOTONIC ms. */
  advise(fn: TunedFunction, now: number): Promise<GcAdvice | undefined>;
}
