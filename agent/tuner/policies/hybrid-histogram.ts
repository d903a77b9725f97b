// The hybrid histogram policy of Shahrad et al., "Serverless in the Wild" (USENIX ATC'20),
// as described in shared/notes/pool-policies.md and re-implemented in dslab-faas:
//
// - per function, a histogram of idle times (from an invocation's end to the next arrival),
//   1-minute bins over 4 hours, longer idle times counted as out-of-bounds (OOB);
// - pattern clear (CV of the bin counts ≥ 2): pre-warm window = the 5th-percentile bin ×0.9,
//   keep-alive window = the 99th-percentile bin (its upper edge) ×1.1. With a pre-warm window
//   the worker is released right after the invocation and a worker is loaded again when the
//   pre-warm window has passed; it then stays until the keep-alive window has passed. Both
//   windows count from the end of the invocation, as the note's OOB case spells out
//   ("alive over [0.85p, 1.15p]"). A pre-warm window of 0 means: just keep alive that long;
// - pattern uncertain (CV < 2, or no idle time yet): pre-warm 0, keep-alive = the full range;
// - many OOB idle times (≥ half): predict the next idle time p; pre-warm at 0.85p, keep until
//   1.15p. The paper fits ARIMA here. We use the median of the last five idle times: these
//   functions have a handful of multi-hour idle times a day, too few to fit ARIMA's
//   parameters to anything but noise (dslab falls back to the raw value for one sample), and
//   the median is robust to one odd gap.
//
// Every window is trace time divided by the replay's compression factor. The paper works per
// application; Hearth pools per function, so the unit here is the function.

import { formatDuration, percent, round } from '../format.js';
import { median, RecentValues } from '../stats.js';
import { IdleHistogram } from './idle-histogram.js';
import { type PoolDecision, type PoolEvent, type PoolPolicy, ProfileBook, samePrewarm } from './policy.js';

export interface HybridHistogramOptions {
  compression?: number;
  /** Histogram bin width, trace time. */
  binMs?: number;
  /** Histogram range, trace time; longer idle times are out-of-bounds. */
  rangeMs?: number;
  headPercentile?: number;
  tailPercentile?: number;
  /** Shrinks the pre-warm window and grows the keep-alive window. */
  histogramMargin?: number;
  /** Below this CV of the bin counts the pattern is uncertain. */
  cvThreshold?: number;
  /** At or above this share of out-of-bounds idle times the predictor takes over. */
  oobThreshold?: number;
  /** The predictor's window is [p·(1 − margin), p·(1 + margin)]. */
  predictorMargin?: number;
  /** How many recent idle times the predictor takes the median of. */
  predictorSamples?: number;
}

const DEFAULTS: Required<HybridHistogramOptions> = {
  compression: 1,
  binMs: 60_000,
  rangeMs: 4 * 3_600_000,
  headPercentile: 0.05,
  tailPercentile: 0.99,
  histogramMargin: 0.1,
  cvThreshold: 2,
  oobThreshold: 0.5,
  predictorMargin: 0.15,
  predictorSamples: 5,
};

interface FunctionRecord {
  histogram: IdleHistogram;
  recent: RecentValues;
  inFlight: number;
  lastEnd: number | undefined;
  /** The decision last made. */
  last: PoolDecision | undefined;
}

/** A window relative to the end of the last invocation; `prewarmMs` 0 means keep alive from the start. Which regime chose it, and from what. */
type Windows = { prewarmMs: number; untilMs: number } & ({ regime: 'predicted'; predicted: number } | { regime: 'uncertain' } | { regime: 'histogram'; head: number; tail: number });

export class HybridHistogramPolicy implements PoolPolicy {
  readonly name = 'hybrid-histogram';
  private readonly options: Required<HybridHistogramOptions>;
  private readonly binMs: number;
  private readonly rangeMs: number;
  private readonly functions = new Map<string, FunctionRecord>();
  private readonly profiles = new ProfileBook();

  constructor(options: HybridHistogramOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.binMs = this.options.binMs / this.options.compression;
    this.rangeMs = this.options.rangeMs / this.options.compression;
  }

  observe(event: PoolEvent): void {
    this.profiles.observe(event);
    if (event.kind !== 'arrival' && event.kind !== 'end') return;
    const record = this.record(event.function);
    if (event.kind === 'arrival') {
      if (record.lastEnd !== undefined) {
        const idleMs = Math.max(0, event.at - record.lastEnd);
        record.histogram.record(idleMs);
        record.recent.push(idleMs);
      }
      record.inFlight++;
    } else {
      record.inFlight = Math.max(0, record.inFlight - 1);
      record.lastEnd = Math.max(record.lastEnd ?? event.at, event.at);
    }
  }

  decide(functionName: string, now: number): PoolDecision {
    const record = this.record(functionName);
    const windows = this.windows(record);
    const max = this.profiles.maxWorkers(functionName);
    // Released right after use and loaded again for [end + pre-warm, end + until] when idle; or kept for the window.
    const keepAliveMs = windows.prewarmMs === 0 ? windows.untilMs : 0;
    const end = record.lastEnd;
    const prewarm =
      windows.prewarmMs > 0 && record.inFlight === 0 && end !== undefined && end + windows.untilMs > now ? { atMs: end + windows.prewarmMs, untilMs: end + windows.untilMs, workers: 1 } : undefined;
    // The same settings: the same decision (its reason and inputs are written only when something changes; called after every event, that is most of its cost).
    const last = record.last;
    if (last !== undefined && last.keepAliveMs === keepAliveMs && last.max === max && samePrewarm(last.prewarm, prewarm)) return last;
    record.last = {
      function: functionName,
      policy: this.name,
      at: now,
      min: 0,
      max,
      keepAliveMs,
      ...(prewarm === undefined ? {} : { prewarm }),
      reason: this.reason(record, windows),
      inputs: {
        idleTimes: record.histogram.count,
        outOfBoundsRate: round(record.histogram.outOfBoundsRate),
        cv: round(record.histogram.coefficientOfVariation),
        prewarmWindowMs: windows.prewarmMs,
        keepAliveUntilMs: windows.untilMs,
      },
    };
    return record.last;
  }

  private windows(record: FunctionRecord): Windows {
    const { histogram } = record;
    const { oobThreshold, cvThreshold, predictorMargin, histogramMargin, headPercentile, tailPercentile } = this.options;
    if (histogram.count > 0 && histogram.outOfBoundsRate >= oobThreshold) {
      const predicted = median(record.recent.all);
      return { regime: 'predicted', prewarmMs: predicted * (1 - predictorMargin), untilMs: predicted * (1 + predictorMargin), predicted };
    }
    if (histogram.coefficientOfVariation < cvThreshold) return { regime: 'uncertain', prewarmMs: 0, untilMs: this.rangeMs };
    const head = histogram.percentileBin(headPercentile);
    const tail = histogram.percentileBin(tailPercentile);
    return { regime: 'histogram', prewarmMs: head * this.binMs * (1 - histogramMargin), untilMs: (tail + 1) * this.binMs * (1 + histogramMargin), head, tail };
  }

  private reason(record: FunctionRecord, windows: Windows): string {
    const { histogram } = record;
    const trace = (ms: number): string => formatDuration(ms * this.options.compression);
    const cv = histogram.coefficientOfVariation;
    switch (windows.regime) {
      case 'predicted':
        return `${percent(histogram.outOfBoundsRate)} of idle times exceed the ${trace(this.rangeMs)} histogram; next idle time predicted ${trace(windows.predicted)} (median of the last ${record.recent.all.length}): warm from ${trace(windows.prewarmMs)} to ${trace(windows.untilMs)} after use`;
      case 'uncertain':
        return `idle-time pattern uncertain (${histogram.count} idle times, CV ${round(cv)} < ${this.options.cvThreshold}): keep alive for the full ${trace(this.rangeMs)} range`;
      case 'histogram': {
        const keep = windows.prewarmMs === 0 ? `keep alive ${trace(windows.untilMs)} after use` : `release after use, warm from ${trace(windows.prewarmMs)} to ${trace(windows.untilMs)}`;
        return `idle times: 5th percentile in bin ${windows.head}, 99th in bin ${windows.tail} (CV ${round(cv)}): ${keep}`;
      }
    }
  }

  private record(functionName: string): FunctionRecord {
    let record = this.functions.get(functionName);
    if (record === undefined) {
      const { binMs, rangeMs } = this;
      record = { histogram: new IdleHistogram(binMs, Math.round(rangeMs / binMs)), recent: new RecentValues(this.options.predictorSamples), inFlight: 0, lastEnd: undefined, last: undefined };
      this.functions.set(functionName, record);
    }
    return record;
  }
}
