import type { Frame, Profile } from './model.js';

/**
 * Frames that are the garbage collector's work. Go: marking, as gctrace counts it (the
 * background mark workers, mark assists charged to allocating goroutines inside mallocgc,
 * and the stop-the-world phases); sweeping and scavenging are paid lazily by allocation and
 * are left with it, as the runtime does. V8: the scavenger, mark-compact, sweeper and
 * concurrent marking.
 */
const GC_FRAMES: RegExp[] = [
  /^runtime\.(gcBgMarkWorker|gcAssistAlloc|gcAssistAlloc1|gcDrain\w*|gcMark\w*|markroot\w*|scanobject|scanblock|scanstack|greyobject|gcStart|gcMarkDone|gcMarkTermination|wbBufFlush\w*)$/,
  /v8::internal::(Scavenger|ScavengerCollector|MarkCompactCollector|MinorMarkCompactCollector|MinorMarkSweepCollector|Sweeper|ConcurrentMarking|IncrementalMarking|MarkingVisitor\w*|Heap::CollectGarbage|Heap::PerformGarbageCollection|MemoryReducer)/,
];

export function isGcFrame(frame: Frame): boolean {
  return GC_FRAMES.some((pattern) => pattern.test(frame.name));
}

export interface GcShare {
  function: string;
  /** Fraction of the function's sampled CPU time spent in the collector, 0..1 (null without samples). */
  share: number | null;
  gcSamples: number;
  samples: number;
}

/**
 * The GC's share of CPU from a steady-state profile: samples with a collector frame anywhere
 * on the stack over all samples of the function's workers. That is the GC CPU fraction the
 * Go GC guide reasons with (GC CPU time over total CPU time of the program), measured rather
 * than derived from GOGC.
 */
export function gcShare(profile: Profile): GcShare {
  let samples = 0;
  let gcSamples = 0;
  for (const sample of profile.samples) {
    samples += sample.count;
    if (sample.stack.some(isGcFrame)) gcSamples += sample.count;
  }
  return { function: profile.function, share: samples === 0 ? null : gcSamples / samples, gcSamples, samples };
}
