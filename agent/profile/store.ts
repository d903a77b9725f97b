import type { Frame, Profile, ProfilePhase, ProfileSample } from './model.js';

/** What the store keeps: one stack of one worker, counted over one collection interval. */
export interface TimedSample extends ProfileSample {
  /** When the interval it was counted in ended, in Unix milliseconds. */
  unixMs: number;
}

export interface ProfileWindow {
  /** Only samples counted after this (Unix ms); everything retained when absent. */
  sinceUnixMs?: number;
}

export interface ProfileSummary {
  function: string;
  phase: ProfilePhase;
  samples: number;
  workers: number;
}

/**
 * Recent samples per function and phase, bounded in age and count. Cold-start samples are
 * kept as long as the limits allow (a profile of many cold starts is the point); steady-state
 * ones are read over a window.
 */
export class ProfileStore {
  private readonly samples: TimedSample[] = [];
  private first = 0;

  constructor(
    private readonly rates: Record<ProfilePhase, number>,
    private readonly retentionMs = 15 * 60_000,
    private readonly maxSamples = 200_000,
  ) {}

  add(sample: TimedSample): void {
    this.samples.push(sample);
    this.trim(sample.unixMs);
  }

  /** The function's profile in this phase, identical stacks of a worker merged. */
  profile(fn: string, phase: ProfilePhase, window: ProfileWindow = {}): Profile {
    const merged = new Map<string, ProfileSample>();
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (let i = this.first; i < this.samples.length; i++) {
      const sample = this.samples[i]!;
      if (sample.labels.function !== fn || sample.labels.phase !== phase) continue;
      if (window.sinceUnixMs !== undefined && sample.unixMs <= window.sinceUnixMs) continue;
      start = Math.min(start, sample.unixMs);
      end = Math.max(end, sample.unixMs);
      const key = `${sample.labels.pid}\0${stackKey(sample.stack)}`;
      const known = merged.get(key);
      if (known === undefined) merged.set(key, { stack: sample.stack, count: sample.count, labels: sample.labels });
      else known.count += sample.count;
    }
    const frequencyHz = this.rates[phase];
    const now = Date.now();
    const startUnixMs = window.sinceUnixMs ?? (Number.isFinite(start) ? start : now);
    return {
      function: fn,
      phase,
      frequencyHz,
      periodNs: Math.round(1e9 / frequencyHz),
      startUnixMs,
      durationMs: Math.max(0, (end === 0 ? now : Math.max(end, now)) - startUnixMs),
      samples: [...merged.values()],
    };
  }

  /** Per function and phase: how many samples are held, from how many workers. */
  summary(): ProfileSummary[] {
    const totals = new Map<string, { summary: ProfileSummary; pids: Set<number> }>();
    for (let i = this.first; i < this.samples.length; i++) {
      const { labels, count } = this.samples[i]!;
      const key = `${labels.function}\0${labels.phase}`;
      let entry = totals.get(key);
      if (entry === undefined) {
        entry = { summary: { function: labels.function, phase: labels.phase, samples: 0, workers: 0 }, pids: new Set() };
        totals.set(key, entry);
      }
      entry.summary.samples += count;
      entry.pids.add(labels.pid);
    }
    return [...totals.values()]
      .map(({ summary, pids }) => ({ ...summary, workers: pids.size }))
      .sort((a, b) => a.function.localeCompare(b.function) || a.phase.localeCompare(b.phase));
  }

  private trim(nowUnixMs: number): void {
    const oldest = nowUnixMs - this.retentionMs;
    while (this.first < this.samples.length && (this.samples.length - this.first > this.maxSamples || this.samples[this.first]!.unixMs < oldest)) this.first++;
    // Compact now and then rather than shifting on every drop.
    if (this.first > 4096 && this.first * 2 > this.samples.length) {
      this.samples.splice(0, this.first);
      this.first = 0;
    }
  }
}

function stackKey(stack: readonly Frame[]): string {
  return stack.map((frame) => `${frame.name}\u0001${frame.module}`).join('\u0002');
}
