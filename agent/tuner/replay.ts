// Turns a trace function's per-minute counts into arrival times, and its duration percentiles
// into sampled execution times, on a replay clock that runs `compression` times faster than
// the trace (compression 60: one trace minute replays in one second).
//
// Within a minute the trace gives only a count. The default spread, 'poisson', places that
// many arrivals independently and uniformly in the minute: exactly a Poisson process
// conditioned on its count, so arrivals clump and gap as real independent requests do.
// 'even' spaces them evenly (k + 1/2)/n through the minute: no clumping, and a timer that
// fires once every N minutes stays exactly periodic.

import { DURATION_PERCENTS, type DurationProfile, type Trace, type TraceFunction } from './trace.js';
import { type Random, seededRandom, streamSeed } from './random.js';

export const TRACE_MINUTE_MS = 60_000;

export type ArrivalSpread = 'poisson' | 'even';

export interface ReplayOptions {
  seed: number;
  /** Trace time per replay time: 60 replays a trace minute in one second; 1 replays in real time. */
  compression: number;
  spread?: ArrivalSpread;
  /** Keep each arrival with this probability (0 < rateScale ≤ 1): a busy trace thinned to fit a small machine. */
  rateScale?: number;
  /**
   * Thin each function whose busiest minute has more arrivals than this, by that ratio (on
   * top of rateScale): its bursts fit the machine, and the rare functions around it keep
   * every arrival.
   */
  maxPerMinute?: number;
}

/** The share of a function's arrivals a replay keeps. */
export function keptShare(fn: TraceFunction, options: Pick<ReplayOptions, 'rateScale' | 'maxPerMinute'>): number {
  const rateScale = options.rateScale ?? 1;
  if (options.maxPerMinute === undefined) return rateScale;
  let busiest = 0;
  for (const count of fn.perMinute) busiest = Math.max(busiest, count);
  return busiest * rateScale <= options.maxPerMinute ? rateScale : options.maxPerMinute / busiest;
}

/** Arrival times of one function in ms on the replay clock (trace minute 1 starts at 0), ascending. */
export function* arrivalTimes(fn: TraceFunction, options: ReplayOptions): Generator<number> {
  checkOptions(options);
  const random = seededRandom(streamSeed(options.seed, `${fn.id}/arrivals`));
  const minuteMs = TRACE_MINUTE_MS / options.compression;
  const rateScale = keptShare(fn, options);
  const spread = options.spread ?? 'poisson';
  for (let minute = 0; minute < fn.perMinute.length; minute++) {
    const count = rateScale === 1 ? fn.perMinute[minute]! : thinned(fn.perMinute[minute]!, rateScale, random);
    if (count === 0) continue;
    const offsets = new Float64Array(count);
    for (let i = 0; i < count; i++) offsets[i] = spread === 'poisson' ? random() : (i + 0.5) / count;
    if (spread === 'poisson') offsets.sort();
    for (const offset of offsets) yield (minute + offset) * minuteMs;
  }
}

/** One request of a replay. */
export interface Arrival {
  /** Replay ms from the start. */
  at: number;
  /** Index of its function in the trace. */
  fn: number;
  /** Execution time, µs of replay time. */
  durationUs: number;
}

/** Every function's arrivals and sampled execution times, merged in time order: exactly what the simulator replays with the same options. */
export function replaySchedule(trace: Trace, options: ReplayOptions): Arrival[] {
  const arrivals: Arrival[] = [];
  trace.functions.forEach((fn, index) => {
    const duration = durationSampler(fn, options);
    for (const at of arrivalTimes(fn, options)) arrivals.push({ at, fn: index, durationUs: Math.round(duration() * 1000) });
  });
  return arrivals.sort((a, b) => a.at - b.at);
}

/** `minutes` trace minutes from minute `from` (0: the first) of a trace: a shorter run. */
export function traceSlice(trace: Trace, from: number, minutes: number): Trace {
  if (!(Number.isInteger(from) && from >= 0 && from < trace.minutes)) throw new RangeError(`replay: the slice must start within the trace's ${trace.minutes} minutes; got minute ${from}`);
  const end = Math.min(trace.minutes, from + minutes);
  return { ...trace, minutes: end - from, functions: trace.functions.map((fn) => sliced(fn, from, end)) };
}

function sliced(fn: TraceFunction, from: number, end: number): TraceFunction {
  const perMinute = fn.perMinute.slice(from, end);
  return { ...fn, perMinute, invocations: perMinute.reduce((sum, count) => sum + count, 0) };
}

/** How many of `count` arrivals survive when each is kept with probability `rate`. */
function thinned(count: number, rate: number, random: Random): number {
  let kept = 0;
  for (let i = 0; i < count; i++) if (random() < rate) kept++;
  return kept;
}

/**
 * Execution times for one function, in ms on the replay clock, sampled with the function's
 * own seeded stream: the trace's percentiles joined by straight lines (an inverse CDF through
 * the 0, 1, 25, 50, 75 and 99th percentiles), except above the 99th. There a straight line
 * to the maximum would make the top 1% alone add (max − p99) / 200 to the mean, often many
 * times the trace's own average (a 100 s maximum over a 79 ms average), so the top 1% is
 * mostly the 99th percentile, and spread up to the maximum just often enough that the
 * sampled mean is the trace's average.
 */
export function durationSampler(fn: TraceFunction, options: ReplayOptions): () => number {
  checkOptions(options);
  const random = seededRandom(streamSeed(options.seed, `${fn.id}/durations`));
  const profile = fn.durations;
  const ms = profile.percentilesMs;
  const p99 = ms[ms.length - 2]!;
  const max = ms[ms.length - 1]!;
  const spread = tailSpread(profile);
  return () => {
    const percent = random() * 100;
    if (percent < 99) return percentileAt(profile, percent) / options.compression;
    const withinTail = percent - 99;
    return (withinTail < spread ? p99 + ((max - p99) * withinTail) / spread : p99) / options.compression;
  };
}

/** The execution time at `percent` (≤ 99) by linear interpolation between the profile's percentiles. */
function percentileAt(profile: DurationProfile, percent: number): number {
  const ms = profile.percentilesMs;
  let i = 1;
  while (DURATION_PERCENTS[i]! < percent) i++;
  const low = DURATION_PERCENTS[i - 1]!;
  const high = DURATION_PERCENTS[i]!;
  return ms[i - 1]! + ((ms[i]! - ms[i - 1]!) * (percent - low)) / (high - low);
}

/** The share of the top 1% spread uniformly from p99 to the maximum (the rest sits at p99) that makes the mean the trace's average. */
function tailSpread(profile: DurationProfile): number {
  const ms = profile.percentilesMs;
  let bodyTotal = 0;
  for (let i = 1; i < DURATION_PERCENTS.length - 1; i++) bodyTotal += ((DURATION_PERCENTS[i]! - DURATION_PERCENTS[i - 1]!) / 100) * ((ms[i - 1]! + ms[i]!) / 2);
  const p99 = ms[ms.length - 2]!;
  const max = ms[ms.length - 1]!;
  if (max === p99) return 0;
  const tailMean = (profile.averageMs - bodyTotal) / 0.01;
  return Math.min(1, Math.max(0, (tailMean - p99) / ((max - p99) / 2)));
}

function checkOptions(options: ReplayOptions): void {
  if (!(options.compression > 0)) throw new RangeError(`replay: compression must be positive; got ${options.compression}`);
  const rateScale = options.rateScale ?? 1;
  if (!(rateScale > 0 && rateScale <= 1)) throw new RangeError(`replay: rateScale must be in (0, 1]; got ${rateScale}`);
  if (options.maxPerMinute !== undefined && !(options.maxPerMinute >= 1)) throw new RangeError(`replay: maxPerMinute must be at least 1; got ${options.maxPerMinute}`);
}

/** Calls `send` with each arrival of `schedule` when its time comes: `at` ms after `t0` on the `now` clock. Resolves once every arrival is sent. */
export function sendOnSchedule<T extends { at: number }>(schedule: readonly T[], t0: number, now: () => number, send: (arrival: T) => void): Promise<void> {
  return new Promise((resolve) => {
    let next = 0;
    const due = (): void => {
      const elapsed = now() - t0;
      while (next < schedule.length && schedule[next]!.at <= elapsed) send(schedule[next++]!);
      if (next === schedule.length) return resolve();
      setTimeout(due, Math.max(0, schedule[next]!.at - (now() - t0)));
    };
    setTimeout(due, Math.max(0, t0 - now()));
  });
}
